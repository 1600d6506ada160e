"""Simplification rules, each pinned by a fixture worked by hand and sound by construction:
every result here also passes the self-check against finite differences (diff checks by default).

- exact rational constants: 1/2 is the number ½, merged with the other constants, never 0.5;
- like terms collected across chain-rule paths (½ P x + ½ Pᵀx = P x for a symmetric P);
- a coefficient every term has is written once: 2XᵀX + 2λI = 2(XᵀX + λI) (an equal one only).
"""

import pytest

from matcalc import diff


@pytest.mark.parametrize("source, wrt, let, layout, order, text, unicode", [
    # Boyd & Vandenberghe's quadratic: ∇(½xᵀPx − qᵀx) = Px − q for a symmetric P
    ("1/2 x'Px - q'x", "x", "P: symmetric(n)", "denominator", 1, "P x - q", "P x - q"),
    # least squares, the ½ cancelling the 2 of the square
    ("1/2 ||X w - y||^2", "w", "", "denominator", 1, "X'(X w - y)", "Xᵀ(X w - y)"),
    # a shared fraction written once, in front
    ("2/3 x'Ax", "x", "", "denominator", 1, "(2/3)(A + A')x", "⅔(A + Aᵀ)x"),
    ("1/3 x'x", "x", "", "denominator", 1, "(2/3)x", "⅔x"),
    # ridge regression's Hessian: 2XᵀX + 2λI = 2(XᵀX + λI)
    ("||y - Xw||^2 + lambda ||w||^2", "w", "", "numerator", 2, "2(X'X + lambda I)", "2(XᵀX + λ I)"),
    # only an equal coefficient is taken out (Magnus & Neudecker ch. 10): 4(xᵀx)I + 8xxᵀ, with the scalar
    # bracketed before I (xᵀx I would not read back)
    ("(x'x)^2", "x", "", "numerator", 2, "4(x'x) I + 8x x'", "4(xᵀx) I + 8x xᵀ"),
    ("-2x'x - 2y'x", "x", "", "denominator", 1, "-4x - 2y", "-4x - 2y"),
    # logistic regression (Bishop PRML 4.91; ESL 4.21): the gradient of the log-likelihood is Xᵀ(y - σ(Xw))
    ("y'log(sigmoid(Xw)) + (1-y)'log(1-sigmoid(Xw))", "w", "", "denominator", 1,
     "X'(y - sigmoid(X w))", "Xᵀ(y - sigmoid(X w))"),
    # its Hessian (PRML 4.97): -Xᵀ diag(σ ⊙ (1 - σ)) X, the slope of σ recognised in σ² - σ
    ("y'log(sigmoid(Xw)) + (1-y)'log(1-sigmoid(Xw))", "w", "", "numerator", 2,
     "-X'diag(sigmoid(X w) .* (1 - sigmoid(X w))) X", "-Xᵀdiag(sigmoid(X w) ⊙ (1 - sigmoid(X w))) X"),
    # log σ and log(1 - σ): σ' = σ ⊙ (1 - σ) cancels against σ in the quotient
    ("log(sigmoid(x'w))", "w", "", "denominator", 1, "(1 - sigmoid(x'w))x", "(1 - sigmoid(xᵀw))x"),
    ("log(1 - sigmoid(x'w))", "w", "", "denominator", 1, "-sigmoid(x'w) x", "-sigmoid(xᵀw) x"),
    # a ⊙ (1 ⊘ b) is a ⊘ b
    ("sum(x ./ y)", "y", "", "denominator", 1, "-x ./ y^2", "-x ⊘ y^2"),
    # softmax regression with a one-hot label (d2l 4.1.2; PRML 4.109): 1ᵀy = 1 gives softmax(o) - y
    ("-y' log(softmax(o))", "o", "y: onehot(n)", "denominator", 1, "softmax(o) - y", "softmax(o) - y"),
    ("-y' log(softmax(W x))", "W", "y: onehot(n)", "denominator", 1, "(softmax(W x) - y)x'",
     "(softmax(W x) - y)xᵀ"),
    ("-p' log(softmax(o))", "o", "p: simplex(n)", "denominator", 1, "softmax(o) - p", "softmax(o) - p"),
    # without the declaration 1ᵀy stays, written sum(y) as d2l does: y is any vector
    ("-y' log(softmax(o))", "o", "", "denominator", 1, "sum(y) softmax(o) - y", "sum(y) softmax(o) - y"),
    # symmetry known and used: XᵀX and its inverse are symmetric (Cookbook (55), via the chain rule)
    ("logdet(X'X)", "X", "", "denominator", 1, "2X(X'X)^-1", "2X(XᵀX)⁻¹"),
    ("x'(A'A)x", "x", "", "denominator", 1, "2A'A x", "2AᵀA x"),
    # the inverse of a product of square matrices meets its factors: B(AQB)⁻¹A = Q⁻¹ (Cookbook (51));
    # with rectangular factors nothing cancels (Cookbook (50): det(AXB) Aᵀ(AXB)⁻ᵀBᵀ, one transpose taken out)
    ("det(A Q B)", "Q", "A: matrix(n, n), Q: matrix(n, n), B: matrix(n, n)", "denominator", 1, "det(A Q B) Q^-T",
     "det(A Q B) Q⁻ᵀ"),
    ("det(A X B)", "X", "A: matrix(n, m), X: matrix(m, k), B: matrix(k, n)", "denominator", 1,
     "det(A X B)(B(A X B)^-1 A)'", "det(A X B)(B(A X B)⁻¹ A)ᵀ"),
    # diagonals of a row and of a column merge as columns: d(z ⊙ z) = 2diag(z), never diag(z + zᵀ), whose
    # shapes do not conform (exploring profile, once the self-check refused unconforming shapes)
    ("diag(z') z", "z", "z: vector(m)", "numerator", 1, "2diag(z)", "2diag(z)"),
    # XᵀS X is symmetric for a symmetric S, so (XᵀS X)⁻ᵀ = (XᵀS X)⁻¹ and two terms are one (Cookbook (53))
    ("det(X'S X)", "X", "S: symmetric(n), X: matrix(n, m)", "denominator", 1, "2det(X'S X) S X(X'S X)^-1",
     "2det(XᵀS X) S X(XᵀS X)⁻¹"),
    # where-names only where they save reading: none for P x, x - a or X⁻ᵀ
    ("det(X)", "X", "", "denominator", 1, "det(X) X^-T", "det(X) X⁻ᵀ"),
    # numbers deep in a product join the coefficient: ½λ‖w‖² gives λ w, not 2λ(½)w
    ("1/2 ||y - Xw||^2 + lambda/2 ||w||^2", "w", "", "denominator", 1, "lambda w - X'(y - X w)",
     "λ w - Xᵀ(y - X w)"),
    # a where-name only for what is long to read: none for A x - b
    ("||A x - b||^2 + ||A x - b||", "x", "", "denominator", 1, "A'(2(A x - b) + (A x - b) / ||A x - b||)",
     "Aᵀ(2(A x - b) + (A x - b) / ‖A x - b‖)"),
    # softplus: d log(1 + eˣ) = eˣ ⊘ (1 + eˣ) = σ(x)
    ("sum(log(1 + exp(x)))", "x", "", "denominator", 1, "sigmoid(x)", "sigmoid(x)"),
    # equal scalar factors are a power
    ("sin(a) cos(a)", "a", "a: scalar", "numerator", 1, "cos(a)^2 - sin(a)^2", "cos(a)^2 - sin(a)^2"),
    # u.^0 is constant: its derivative is a zero matrix of the Jacobian's shape, not diag(0) (exploring profile)
    ("(exp(x') + sigmoid(x')) .^ 0", "x", "x: vector(n)", "numerator", 1, "0", "0"),
    # x³/3 by x: the 3s cancel exactly
    ("x^3/3", "x", "x: scalar", "numerator", 1, "x^2", "x^2"),
    # the variance (PRML (1.56)) by x: the chain through mean(x) gives -(2/n²) sum(x - mean(x)) 𝟏, and
    # deviations from the mean sum to 0, so 2(x - x̄𝟏)/n is left; the same with the mean written sum(x)/n
    ("||x - mean(x)||^2 / n", "x", "x: vector(n)", "denominator", 1, "(2/n)(x - mean(x))", "(2/n)(x - mean(x))"),
    ("||x - sum(x)/n||^2", "x", "x: vector(n)", "denominator", 1, "2(x - sum(x) / n)", "2(x - sum(x) / n)"),
    # the logistic loss with a scalar label c (PRML (4.91), one sample): -(c(1 - σ) - (1 - c)σ)x multiplied
    # out is (σ - c)x, the c σ terms cancelling
    ("-(c log(sigmoid(w'x)) + (1 - c) log(1 - sigmoid(w'x)))", "w", "c: scalar", "denominator", 1,
     "(sigmoid(w'x) - c)x", "(sigmoid(wᵀx) - c)x"),
    # cosine similarity (MC (129) and the quotient rule): the ‖y‖ of the chain cancels one below the line and
    # the equal norms below it are a power, y/(‖x‖‖y‖) - (xᵀy)x/(‖x‖³‖y‖)
    ("x'y / (||x|| ||y||)", "x", "", "denominator", 1, "y / (||x|| ||y||) - (x'y) x / (||x||^3 ||y||)",
     "y / (‖x‖ ‖y‖) - (xᵀy) x / (‖x‖^3 ‖y‖)"),
    # the error a sum of a layer's outputs sends back is W2ᵀ𝟏 (P&H §4.3: ∂sum(W x)/∂x = 𝟏ᵀW), not (𝟏ᵀW2)ᵀ
    ("sum(W2 tanh(W1 x))", "x", "", "numerator", 1, "((W2'1) .* (1 - tanh(W1 x)^2))'W1",
     "((W2ᵀ𝟏) ⊙ (1 - tanh(W1 x)^2))ᵀW1"),
])
def test_simplified_forms(source, wrt, let, layout, order, text, unicode):
    result = diff(source, wrt, let, layout, order)
    assert result.text == text
    assert result.report()[0].endswith(f"= {unicode}")
    assert result.check.holds
    assert "0.5" not in result.report()[0]
