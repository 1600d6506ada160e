"""matcalc: symbolic matrix calculus for scalars, vectors and matrices.

>>> from matcalc import parse
>>> parse("x'Ax").shape.kind
'scalar'
"""

from .api import DiffResult, DiffResults, Parsed, declarations, diff, parse
from .errors import ExitStatus, MatcalcError
from .layout import Layout

__all__ = [
    "DiffResult",
    "DiffResults",
    "ExitStatus",
    "Layout",
    "MatcalcError",
    "Parsed",
    "declarations",
    "diff",
    "parse",
]
__version__ = "0.2.0"
