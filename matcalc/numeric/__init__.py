"""Numbers: the NumPy meaning of an expression, sample points, finite differences, and the checks built on them."""
