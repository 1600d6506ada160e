"""Layouts: the one place that decides how the axes of a derivative are ordered.

A derivative ∂y/∂x has the axes of y (none for a scalar, (m,) for a vector,
(m, l) for a matrix) and the axes of x (likewise). Numerator layout puts y's
axes first, then x's axes reversed: SPEC §3's table, e.g. (k, n) for a scalar
by an n×k matrix. Denominator layout reverses every axis of that. Mixed layout
is denominator for a scalar y (the gradient has the shape of x) and numerator
otherwise. A result of rank 1 keeps a unit axis where y or x is a scalar, so a
scalar by a vector is 1×n in numerator layout and n×1 in denominator layout.
"""

from __future__ import annotations

from enum import Enum

from .shapes import Dim, Shape


class Layout(str, Enum):
    NUMERATOR = "numerator"
    DENOMINATOR = "denominator"
    MIXED = "mixed"


def axes(shape: Shape) -> tuple[Dim, ...]:
    """The axes of an expression: () for a scalar, (n,) for a vector of either orientation."""
    return tuple(dim for dim in (shape.rows, shape.cols) if dim != 1)


def arrange(out_axes: tuple, wrt_axes: tuple, layout: Layout, out_is_scalar: bool) -> tuple:
    """Order the axes of ∂out/∂wrt (dimensions, or index names) for a layout.

    A result of rank 0 is (1,); one of rank 1 keeps a unit axis, written None,
    where y or x is a scalar: scalar by vector is (None, n) in numerator layout.
    """
    return arrange_order(out_axes, (wrt_axes,), layout, out_is_scalar)


def arrange_order(out_axes: tuple, wrt_groups: tuple[tuple, ...], layout: Layout, out_is_scalar: bool) -> tuple:
    """Order the axes of a K-th derivative: each differentiation appends the variable's axes
    (one group per differentiation) reversed, in numerator layout; the other layouts reverse it all.

    >>> arrange_order((), (("a", "b"), ("c", "d")), Layout.NUMERATOR, True)
    ('b', 'a', 'd', 'c')
    >>> arrange_order(("i",), (("a",), ("c",)), Layout.DENOMINATOR, False)
    ('c', 'a', 'i')
    """
    numerator = tuple(out_axes) + tuple(axis for group in wrt_groups for axis in tuple(group)[::-1])
    if not numerator:
        return (None,)
    if len(numerator) == 1:
        numerator = (numerator[0], None) if out_axes else (None, numerator[0])
    reverse = layout is Layout.DENOMINATOR or (layout is Layout.MIXED and out_is_scalar)
    return numerator[::-1] if reverse else numerator


def result_shape(out: Shape, wrt: Shape, layout: Layout) -> tuple[Dim, ...]:
    """The shape of ∂out/∂wrt in a layout, as SPEC §3's table gives it.

    >>> result_shape(Shape(1, 1), Shape("n", 1), Layout.NUMERATOR)
    (1, 'n')
    >>> result_shape(Shape("m", 1), Shape("n", "k"), Layout.DENOMINATOR)
    ('n', 'k', 'm')
    """
    arranged = arrange(axes(out), axes(wrt), layout, out.is_scalar)
    return tuple(1 if dim is None else dim for dim in arranged)


def derivative_shape(out: Shape, wrt: Shape, layout: Layout, order: int = 1) -> tuple[Dim, ...]:
    """The shape of the order-th derivative of out by wrt (SPEC §3).

    >>> derivative_shape(Shape(1, 1), Shape("p", "q"), Layout.NUMERATOR, 2)
    ('q', 'p', 'q', 'p')
    >>> derivative_shape(Shape("m", 1), Shape(1, 1), Layout.NUMERATOR, 2)
    ('m', 1)
    """
    arranged = arrange_order(axes(out), (axes(wrt),) * order, layout, out.is_scalar)
    return tuple(1 if dim is None else dim for dim in arranged)
