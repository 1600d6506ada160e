"""Differentiation: the rules per node kind, the driver, index form back to matrix notation, steps, solve, vec."""
