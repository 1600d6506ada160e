"""matcalc: symbolic matrix calculus for scalars, vectors and matrices.

>>> from matcalc import parse
>>> parse("x'Ax").shape.kind
'scalar'
"""

from .api import Parsed, declarations, parse
from .errors import ExitStatus, MatcalcError
from .layout import Layout

__all__ = ["ExitStatus", "Layout", "MatcalcError", "Parsed", "declarations", "parse"]
__version__ = "0.1.0"
