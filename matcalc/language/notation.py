"""How the language writes a typed node: the name of each function node, and how tightly each
construct binds (the parser's grammar levels). One table, read by every printer of the language and by
the estimate of a written length that decides where-names."""

from __future__ import annotations

from .. import nodes as n

# Binding strength, loosest first (the parser's grammar levels).
DERIVATIVE, SUM, PRODUCT, UNARY, POWER, POSTFIX, ATOM = range(7)

FUNCTION_NAMES = {
    n.Trace: "tr",
    n.Det: "det",
    n.LogDet: "logdet",
    n.Sum: "sum",
    n.Mean: "mean",
    n.DiagMatrix: "diag",
    n.DiagOf: "diag",
    n.Maximum: "max",
    n.Minimum: "min",
    n.Softmax: "softmax",
    n.LogSumExp: "logsumexp",
}


def precedence(node: n.Node) -> int:
    if isinstance(node, n.Derivative):
        return DERIVATIVE
    if isinstance(node, n.Add):
        return SUM
    if isinstance(node, (n.ScalarMul, n.MatMul, n.Hadamard, n.Divide)):
        return PRODUCT
    if isinstance(node, n.Neg):
        return UNARY
    if isinstance(node, (n.Power, n.MatPower, n.Inverse)):
        return POWER
    if isinstance(node, n.Transpose):
        return POSTFIX
    return ATOM
