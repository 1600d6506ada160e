"""Tables of cases that more than one test file runs, each checked by hand where it states an answer.

- WORKED: the course's worked examples (d2l, Parr & Howard, the Matrix Cookbook), derived with --steps;
- LONG: results too long for one line of LaTeX;
- COMPILE_CASES: every construct of SPEC §2 and every cell of the shape table, compiled with pdflatex;
- GOLDEN: text and LaTeX of results, each checked by hand against the mathematics.
"""

from __future__ import annotations

import pytest

WORKED = [  # the course's worked examples (d2l, Parr & Howard, the Matrix Cookbook)
    ("3x^2 - 4x", "x", "x: scalar"),
    ("max(0, w'x + b)", "w", ""),
    ("(max(0, w'x + b) - t)^2", "w", "t: scalar"),
    ("sum(w*x + b)", "w", ""),
    ("x'Ax", "x", ""),
    ("||y - Xw||^2", "w", ""),
    ("-y' log(softmax(o))", "o", ""),
    ("tanh(W2 tanh(W1 x))", "x", ""),
    ("1/2 ||W2 tanh(W1 x) - y||^2", "x", ""),
    ("tr(A X B)", "X", ""),
    ("log(det(X))", "X", ""),
    ("A x + b", "x", ""),
]


LONG = [
    ["y'log(sigmoid(Xw)) + (1-y)'log(1-sigmoid(Xw))", "--wrt", "w", "--order", "2"],
    [" + ".join(f"a{i} x'A{i}x" for i in range(1, 8)), "--wrt", "x"],
    ["-y' log(softmax(W2 tanh(W1 x + b1)))", "--wrt", "W1", "--layout", "denominator"],
    ["||W2 tanh(W1 x) - y||^2", "--wrt", "x", "--order", "2"],
    ["tanh(W5 tanh(W4 tanh(W3 tanh(W2 tanh(W1 x)))))", "--wrt", "x"],
]


LATEX_LET = ("a: scalar, b: scalar, x: vector(n), y: vector(n), z: vector(m), u: vector(k), "
       "A: matrix(n, n), B: matrix(n, m), C: matrix(m, n), X: matrix(n, m), D: matrix(m, k), "
       "P: posdef(n), S: symmetric(n)")


def case(source, wrt, let=LATEX_LET, layout="numerator", order=1):
    return pytest.param(source, wrt, let, layout, order, id=f"{source} by {wrt}, {layout}, order {order}")


# Every construct of SPEC §2, every cell of the shape table, Hessians, kinks, where-clauses and names.
COMPILE_CASES = [
    # sums, differences, scalar expansion, scaling, juxtaposition
    case("(x - y)'(x + a)", "x"),
    case("X - a + B", "a"),
    case("A - b + a A", "A"),
    case("a b X", "X"),
    case("pi a x + e", "a"),
    # matrix products and @
    case("x'A y", "A"),
    case("X z", "X"),
    case("A B", "A"),
    case("x' @ A @ x", "A", layout="denominator"),
    case("D u", "D"),
    # elementwise products and divisions, division by a scalar
    case("x*y", "x"),
    case("X .* X", "X"),
    case("sum(x ⊙ y)", "y"),
    case("x ./ y", "y"),
    case("B ./ X", "X"),
    case("x / a", "a"),
    case("sum(X) / (a b)", "b"),
    case("x'x/3", "x"),
    # negation
    case("-x'A x", "x"),
    case("-(A x)", "A"),
    # powers: scalar, of a square matrix, elementwise
    case("a^3 - 4a", "a"),
    case("a^1.5", "a"),
    case("(x'y)^-1", "y"),
    case("A^3", "A"),
    case("A^-2", "A"),
    case("x'A^2 x", "x"),
    case("x .^ 3", "x"),
    case("2 .^ x", "x"),
    case("a .^ x", "a"),
    case("x^-1", "x"),
    case("sum(X .^ 0.001)", "X"),
    # transposes and inverses
    case("X^T y", "X"),
    case("(A B)'", "B"),
    case("inv(A) x", "A"),
    case("x' inv(P) x", "P"),
    case("inv(a A)", "a"),
    case("(A')^-1", "A", layout="denominator"),
    # trace, determinant, log-determinant
    case("trace(X' A X)", "X", layout="denominator"),
    case("det(a A)", "a"),
    case("det(A) x", "A"),
    case("logdet(P)", "P"),
    case("log(det(A))", "A", layout="denominator"),
    case("logdet(X'X + I)", "X"),
    # norms and absolute values
    case("||x||", "x"),
    case("||x||_1", "x", layout="denominator"),
    case("||X||_F", "X"),
    case("norm2(A x)", "A"),
    case("‖a x‖", "a"),
    case("1/(2n) ||y - X z||^2", "z"),
    case("abs(X)", "X"),
    case("sum(|A x|)", "A"),
    # sum, mean, diag, dot
    case("sum(x z')", "z"),
    case("mean(A)", "A"),
    case("diag(x) A", "x"),
    case("diag(A)'x", "A"),
    case("diag(X C)", "X"),
    case("dot(x, A y)", "A"),
    # elementwise functions
    case("exp(A x)", "x"),
    case("sum(log(x))", "x"),
    case("sin(a x)", "a"),
    case("cos(X z)", "X"),
    case("tan(a)", "a"),
    case("tanh(A)", "A"),
    case("arcsin(x)", "x"),
    case("arccos(x)'y", "x"),
    case("arctan(X z)", "z"),
    case("sqrt(x'x)", "x"),
    case("sqrt(X)", "X"),
    case("sigmoid(X'y)", "X"),
    case("sign(x) .* x", "x"),
    # kinks: relu, abs, max, min, sign (subgradient notes)
    case("relu(A x)", "A"),
    case("relu(x)", "x"),
    case("|a|", "a"),
    case("max(0, w'x + b)", "w", let="w: vector(n), x: vector(n), b: scalar"),
    case("max(x, y)", "x", layout="mixed"),
    case("min(0, X)", "X"),
    case("min(a x, y)", "a"),
    case("sign(x)", "x"),
    # softmax, logsumexp
    case("softmax(x)", "x"),
    case("softmax(A x)", "A"),
    case("-y' log(softmax(o))", "o", let=None, layout="denominator"),
    case("logsumexp(X z)", "X"),
    # identity, ones, constant vectors and matrices
    case("x'(A + I)x", "x"),
    case("a eye(n) + A", "a"),
    case("ones(n)'A x", "A"),
    case("x .* vector(3)", "x"),
    case("matrix(2) .* X", "X"),
    case("X + matrix(a)", "a"),
    # the nine cells of the shape table (and the identity of order 4)
    case("a x", "a"),
    case("a X", "a"),
    case("A X B", "X", let="A: matrix(m, n), X: matrix(n, k), B: matrix(k, l)"),
    case("X", "X", layout="denominator"),
    case("x x'", "x", layout="denominator"),
    case("X - X", "X"),
    # Hessians
    case("x'A x", "x", order=2),
    case("1/2 ||X z - y||^2", "z", order=2),
    case("logsumexp(x)", "x", order=2),
    case("||x||", "x", order=2),
    case("log(1 + exp(-a (x'y)))", "x", order=2),
    case("exp(a) sin(a)", "a", order=2),
    case("-y' log(softmax(o))", "o", let=None, order=2),
    # where-clauses for named subexpressions (three layers are too long for a line written out)
    case("tanh(W2 tanh(W1 x))", "x", let=None),
    case("tanh(W3 tanh(W2 tanh(W1 x)))", "x", let=None),
    case("W3 tanh(W2 tanh(W1 x))", "W1", let=None),
    case("W3 tanh(W2 tanh(W1 x))", "x", let=None, layout="denominator"),
    # Greek, keyword and subscripted names
    case("lambda ||x||^2", "lambda", let="lambda: scalar, x: vector(n)"),
    case("lambda ||x||^2 + x'y", "x", let="lambda: scalar, x: vector(n), y: vector(n)", layout="mixed"),
    case("λ ||θ||^2 + θ'x", "θ", let="λ: scalar, θ: vector(n), x: vector(n)", layout="denominator"),
    case("Sigma x + alpha x", "x", let="Sigma: matrix(n, n), alpha: scalar, x: vector(n)"),
    case("W1 x_1", "W1", let="W1: matrix(m, n), x_1: vector(n)"),
    case("loss_val ||x_train||^2", "x_train", let="loss_val: scalar, x_train: vector(n)"),
]


def golden(source, wrt, text, latex, let=LATEX_LET, layout="numerator", order=1):
    return pytest.param(source, wrt, let, layout, order, text, latex, id=f"{source} by {wrt}, {layout}")


# Each golden was checked by hand against the mathematics, not pasted from output.
GOLDEN = [
    # d(x'Ax) = x'(A + A')dx: the numerator-layout derivative is the row x'(A + A') (1×n).
    golden("x'Ax", "x", "xᵀ(A + Aᵀ)",
           r"\frac{\partial \mathbf{x}^\top A \mathbf{x}}{\partial \mathbf{x}} = \mathbf{x}^\top (A + "
           r"A^\top)"),
    # The gradient (denominator layout) of x'Ax is the column (A + A')x.
    golden("x'Ax", "x", "(A + Aᵀ)x",
           r"\frac{\partial \mathbf{x}^\top A \mathbf{x}}{\partial \mathbf{x}} = (A + A^\top) \mathbf{x}",
           layout="denominator"),
    # Least squares: ∇_w ||y - Xw||² = -2X'(y - Xw), a column of w's length.
    golden("||y - Xw||^2", "w", "-2Xᵀ(y - X w)",
           r"\frac{\partial \lVert \mathbf{y} - X \mathbf{w} \rVert_2^{2}}{\partial \mathbf{w}} = -2 X^\top "
           r"(\mathbf{y} - X \mathbf{w})",
           let=None, layout="denominator"),
    # y = A X b, y_i = A_ir X_rc b_c, so ∂y_i/∂X_jk = A_ij b_k (order 3: index notation, y defined after).
    golden("A X b", "X", "∂y_i/∂X_jk = A_ij b_k",
           r"\frac{\partial y_{i}}{\partial X_{jk}} = A_{ij} b_{k}, \quad \text{where } \mathbf{y} = A X \mathbf{b}",
           let="A: matrix(n, m), X: matrix(m, k), b: vector(k)"),
    # Chain rule through two tanh layers: J = diag(1 - tanh(W2 h)^2) W2 diag(1 - h^2) W1, h = tanh(W1 x);
    # tanh' = 1 - tanh², applied entrywise, becomes a diagonal matrix. Written out, it fits on a line: no names.
    # The function is wider than a quarter of a line: it follows the operator, not a huge numerator.
    golden("tanh(W2 tanh(W1 x))", "x", "diag(1 - tanh(W2 tanh(W1 x))^2) W2 diag(1 - tanh(W1 x)^2) W1",
           r"\frac{\partial}{\partial \mathbf{x}} \left(\tanh(W_{2} \tanh(W_{1} \mathbf{x}))\right) = "
           r"\operatorname{diag}(1 - \tanh(W_{2} \tanh(W_{1} \mathbf{x}))^{\circ 2}) W_{2} \operatorname{diag}(1 - "
           r"\tanh(W_{1} \mathbf{x})^{\circ 2}) W_{1}",
           let=None),
    # dy = W3 D2 W2 D1 dW1 x (D1, D2 the tanh' diagonals), so ∂y_i/∂(W1)_jk = (W3 D2 W2)_ij (D1)_jj x_k: the
    # diagonal at the end of the product opens into its vector, (1 - tanh(W1 x)²)_j.
    golden("W3 tanh(W2 tanh(W1 x))", "W1",
           "∂y_i/∂(W1)_jk = (W3 diag(1 - tanh(W2 tanh(W1 x))^2) W2)_ij (1 - tanh(W1 x)^2)_j x_k",
           r"\frac{\partial y_{i}}{\partial (W_{1})_{jk}} = (W_{3} \operatorname{diag}(1 - \tanh(W_{2} "
           r"\tanh(W_{1} \mathbf{x}))^{\circ 2}) W_{2})_{ij} (1 - \tanh(W_{1} \mathbf{x})^{\circ 2})_{j} x_{k}, "
           r"\quad \text{where } \mathbf{y} = W_{3} \tanh(W_{2} \tanh(W_{1} \mathbf{x}))",
           let=None),
    # Matrix Cookbook (57): ∂ log det X / ∂X = X^-T in denominator layout (the shape of X); X^-T exists only
    # for an invertible X, which the note says (log det X needs det X > 0, so X is invertible anyway).
    golden("log(det(X))", "X", "X⁻ᵀ",
           r"\frac{\partial \log\det X}{\partial X} = X^{-\top} \quad (\text{assumes } X \text{ invertible})",
           let=None, layout="denominator"),
    # Matrix Cookbook (101): ∂ tr(AXB)/∂X = A'B' in denominator layout.
    golden("tr(A X B)", "X", "AᵀBᵀ",
           r"\frac{\partial \operatorname{tr}(A X B)}{\partial X} = A^\top B^\top",
           let="A: matrix(n, m), X: matrix(m, k), B: matrix(k, n)", layout="denominator"),
    # Cross-entropy: -y' log softmax(o) = -y'o + sum(y) logsumexp(o), so the gradient is sum(y) softmax(o) - y.
    golden("-y' log(softmax(o))", "o", "sum(y) softmax(o) - y",
           r"\frac{\partial}{\partial \mathbf{o}} \left(-\mathbf{y}^\top \log(\operatorname{softmax}(\mathbf{o}))"
           r"\right) = \operatorname{sum}(\mathbf{y}) \operatorname{softmax}(\mathbf{o}) - \mathbf{y}",
           let=None, layout="denominator"),
    # A ReLU neuron: the derivative is x' where w'x + b > 0 and 0 where it is < 0 (step); a kink at 0,
    # where any convex combination of 0 and x' is a subgradient: step(0) = 1/2 weighs the two 1/2 each.
    golden("max(0, w'x + b)", "w", "step(wᵀx + b) xᵀ",
           r"\frac{\partial \max(0, \mathbf{w}^\top \mathbf{x} + b)}{\partial \mathbf{w}} = "
           r"\operatorname{step}(\mathbf{w}^\top \mathbf{x} + b) \mathbf{x}^\top \quad (\text{subgradient where } "
           r"\mathbf{w}^\top \mathbf{x} + b = 0\text{: weights } \tfrac{1}{2})",
           let="w: vector(n), x: vector(n), b: scalar"),
    # |x| entrywise has the diagonal Jacobian diag(sign(x)) away from the kinks at x_i = 0, where the
    # subdifferential of |t| at 0 is [-1, 1].
    golden("|x|", "x", "diag(sign(x))",
           r"\frac{\partial \lvert \mathbf{x} \rvert}{\partial \mathbf{x}} = "
           r"\operatorname{diag}(\operatorname{sign}(\mathbf{x})) \quad (\text{subgradient at } \mathbf{x} = "
           r"0\text{: any value in } [-1, 1])"),
    # relu entrywise: the Jacobian is diag(step(x)); at 0 the subdifferential of max(0, t) is [0, 1], and
    # step(0) = 1/2 is the value used.
    golden("relu(x)", "x", "diag(step(x))",
           r"\frac{\partial \operatorname{relu}(\mathbf{x})}{\partial \mathbf{x}} = "
           r"\operatorname{diag}(\operatorname{step}(\mathbf{x})) \quad (\text{subgradient at } \mathbf{x} = "
           r"0\text{: any value in } [0, 1]\text{, } \tfrac{1}{2} \text{ used})"),
    # λ||x||² has the derivative 2λx' (a row in numerator layout); lambda is a Python keyword, a Greek letter here.
    golden("lambda ||x||^2", "x", "2λ xᵀ",
           r"\frac{\partial \lambda \lVert \mathbf{x} \rVert_2^{2}}{\partial \mathbf{x}} = 2 \lambda "
           r"\mathbf{x}^\top",
           let="lambda: scalar, x: vector(n)"),
    # The Hessian of logsumexp is diag(p) - pp' with p = softmax(x); its entries are ∂²f/∂x_i∂x_j, so the
    # denominator is ∂x ∂xᵀ (as the Cookbook and Magnus & Neudecker write it), not ∂x², a power of a vector.
    golden("logsumexp(x)", "x", "diag(softmax(x)) - softmax(x) softmax(x)ᵀ",
           r"\frac{\partial^{2} \operatorname{logsumexp}(\mathbf{x})}{\partial \mathbf{x} \, \partial \mathbf{x}^\top} = "
           r"\operatorname{diag}(\operatorname{softmax}(\mathbf{x})) - \operatorname{softmax}(\mathbf{x}) "
           r"\operatorname{softmax}(\mathbf{x})^\top",
           order=2),
    # The Hessian of 1/2 ||Xw - y||² is X'X (a function holding a fraction follows the operator, never a
    # fraction in the numerator; ∂w ∂wᵀ below).
    golden("1/2 ||X w - y||^2", "w", "XᵀX",
           r"\frac{\partial^{2}}{\partial \mathbf{w} \, \partial \mathbf{w}^\top} \left(\frac{1}{2} \lVert X "
           r"\mathbf{w} - \mathbf{y} \rVert_2^{2}\right) = X^\top X",
           let=None, order=2),
    # ∂(x_i/y_i)/∂y_j = -x_i/y_i² δ_ij: a diagonal Jacobian, ⊘ and an elementwise square ^{∘2}.
    golden("x ./ y", "y", "-diag(x ⊘ y^2)",
           r"\frac{\partial \mathbf{x} \oslash \mathbf{y}}{\partial \mathbf{y}} = "
           r"-\operatorname{diag}(\mathbf{x} \oslash \mathbf{y}^{\circ 2})"),
    # d||x|| = x'dx / ||x||: the row x'/||x|| in numerator layout; a fraction by a scalar is \frac. At x = 0
    # the subdifferential of the 2-norm is the unit ball {g : ||g|| ≤ 1}.
    golden("||x||", "x", "xᵀ / ‖x‖",
           r"\frac{\partial \lVert \mathbf{x} \rVert_2}{\partial \mathbf{x}} = "
           r"\frac{\mathbf{x}^\top}{\lVert \mathbf{x} \rVert_2} \quad (\text{subgradient at } "
           r"\mathbf{x} = 0\text{: any } \mathbf{g} \text{ with } \lVert \mathbf{g} \rVert_2 \le 1)"),
    # X by itself: ∂X_ij/∂X_kl = δ_ik δ_jl, the identity of order 4 (no "where": y is X itself).
    golden("X", "X", "∂X_ij/∂X_kl = δ_ik δ_jl",
           r"\frac{\partial X_{ij}}{\partial X_{kl}} = \delta_{ik} \delta_{jl}"),
    # d(A⁻¹) = -A⁻¹ dA A⁻¹, so ∂Y_ij/∂A_kl = -(A⁻¹)_ik (A⁻¹)_lj, each factor as written (not (A⁻ᵀ)_jl).
    golden("inv(A)", "A", "∂Y_ij/∂A_kl = -(A⁻¹)_ik (A⁻¹)_lj",
           r"\frac{\partial Y_{ij}}{\partial A_{kl}} = -(A^{-1})_{ik} (A^{-1})_{lj}, \quad \text{where } "
           r"Y = A^{-1}"),
    # d/da a^{3/2} = (3/2) a^{1/2}: fractions as \frac, and inline p/q in an exponent.
    golden("a^1.5", "a", "(3/2)a^0.5",  # exact, as the LaTeX: a coefficient is a fraction
           r"\frac{\partial a^{3/2}}{\partial a} = \frac{3}{2} a^{1/2}"),
    # mean(x ⊙ y) = (1/n) Σ x_i y_i, so the derivative by x is the row y'/n; n is the dimension as a number.
    golden("mean(x .* y)", "x", "(1/n) yᵀ",
           r"\frac{\partial \operatorname{mean}(\mathbf{x} \odot \mathbf{y})}{\partial \mathbf{x}} = "
           r"\frac{1}{n} \mathbf{y}^\top"),
    # Matrix Cookbook (49): ∂ det A/∂A = det(A) A^-T (denominator); numerator layout transposes it: det(A) A⁻¹.
    # A⁻¹ is in the result (not in the function), so the note says it is assumed to exist.
    golden("det(A)", "A", "det(A) A⁻¹",
           r"\frac{\partial \det(A)}{\partial A} = \det(A) A^{-1} \quad (\text{assumes } A \text{ invertible})"),
    # d softmax(z) = (diag(p) - pp') dz with z = a x, dz = x da: x ⊙ p - p (x'p), p = softmax(a x) written out.
    golden("softmax(a x)", "a", "x ⊙ softmax(a x) - softmax(a x)(xᵀsoftmax(a x))",
           r"\frac{\partial \operatorname{softmax}(a \mathbf{x})}{\partial a} = \mathbf{x} \odot "
           r"\operatorname{softmax}(a \mathbf{x}) - \operatorname{softmax}(a \mathbf{x}) (\mathbf{x}^\top "
           r"\operatorname{softmax}(a \mathbf{x}))"),
    # Unicode Greek names: ∇_θ (λ||θ||² + θ'x) = 2λθ + x; a Greek vector is \boldsymbol.
    golden("λ ||θ||^2 + θ'x", "θ", "2λ θ + x",
           r"\frac{\partial (\lambda \lVert \boldsymbol{\theta} \rVert_2^{2} + \boldsymbol{\theta}^\top "
           r"\mathbf{x})}{\partial \boldsymbol{\theta}} = 2 \lambda \boldsymbol{\theta} + \mathbf{x}",
           let="λ: scalar, θ: vector(n), x: vector(n)", layout="denominator"),
    # Subscripted names: the quadratic form again, x_1'(W_1 + W_1'), with x_1 bold and W_1 italic.
    golden("x_1' W_1 x_1", "x_1", "x_1ᵀ(W_1 + W_1ᵀ)",
           r"\frac{\partial \mathbf{x}_{1}^\top W_{1} \mathbf{x}_{1}}{\partial \mathbf{x}_{1}} = "
           r"\mathbf{x}_{1}^\top (W_{1} + W_{1}^\top)",
           let="x_1: vector(n), W_1: matrix(n, n)"),
    # ∂2^{x_i}/∂x_j = log(2) 2^{x_i} δ_ij: an elementwise power with a scalar base.
    golden("2 .^ x", "x", "log(2) diag(2.^x)",
           r"\frac{\partial 2^{\circ \mathbf{x}}}{\partial \mathbf{x}} = \log(2) "
           r"\operatorname{diag}(2^{\circ \mathbf{x}})"),
    # d sqrt(x'x) = 2x'dx / (2 sqrt(x'x)) = x'dx / sqrt(x'x): the 2s cancel.
    golden("sqrt(x'x)", "x", "xᵀ / sqrt(xᵀx)",
           r"\frac{\partial \sqrt{\mathbf{x}^\top \mathbf{x}}}{\partial \mathbf{x}} = "
           r"\frac{\mathbf{x}^\top}{\sqrt{\mathbf{x}^\top \mathbf{x}}}"),
    # Y = x z', Y_ij = x_i z_j, so ∂Y_ij/∂z_k = x_i δ_jk (matrix by vector: order 3).
    golden("x z'", "z", "∂Y_ij/∂z_k = x_i δ_jk",
           r"\frac{\partial Y_{ij}}{\partial z_{k}} = x_{i} \delta_{jk}, \quad \text{where } Y = \mathbf{x} "
           r"\mathbf{z}^\top"),
    # ∇ Σ log x_i = (1/x_i)_i, written 1 ⊘ x (the scalar 1 expanded).
    golden("sum(log(x))", "x", "1 ⊘ x",
           r"\frac{\partial \operatorname{sum}(\log(\mathbf{x}))}{\partial \mathbf{x}} = 1 \oslash "
           r"\mathbf{x}",
           layout="denominator"),
    # ∇ ||X||_F² = 2X, the shape of X in denominator layout.
    golden("||X||_F^2", "X", "2X",
           r"\frac{\partial \lVert X \rVert_F^{2}}{\partial X} = 2 X", layout="denominator"),
]
