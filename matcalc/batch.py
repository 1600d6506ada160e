"""`matcalc check`: files of identities -> one CheckResult per identity. Never prints.

    # a comment
    let x: vector(n), A: matrix(n, n)
    layout denominator
    d/dx x'Ax = (A + A')x
    tr(B C) = tr(C B)

`let` and `layout` lines hold until changed. Each identity is checked
numerically at random points (derivatives by finite differences of the
function itself, so the check never trusts the differentiator), and it is
proved symbolically where matcalc can: both sides, with matcalc's derivatives
in place of `d/dV`, reduce to the same simplified expression. A bad line gives
an `error` result and the run goes on.

A verdict never rests on luck. A line's points come from the seed and its own
text; they keep a margin from the edges of the functions' domains; every
finite difference carries an estimate of its own error. `FALSE` needs the
sides to differ beyond that estimate at several points; where the points
cannot decide, the line is `undecided` and says why. A proof is exact, so
`proved` stands whatever the points say.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from . import nodes as n
from .calculus.vec import vec_shape
from .errors import (
    DeclarationError,
    ExitStatus,
    MatcalcError,
    OutOfTime,
    ShapeError,
    Span,
    UnknownSymbolError,
    UnsupportedError,
    time_limit,
)
from .language.checker import check_all
from .language.decls import Env, parse_declarations
from .language.parser import parse_equation
from .language.syntax import Deriv, Syntax
from .layout import Layout, derivative_shape
from .shapes import SCALAR, Shape

if TYPE_CHECKING:
    from .numeric.differences import Reading, Sampler

PROVED, HOLDS, FALSE, UNDECIDED, ERROR = "proved", "holds (numerically)", "FALSE", "undecided", "error"
STATUSES = (PROVED, HOLDS, FALSE, UNDECIDED, ERROR)
POINTS = 3  # points at which the two sides must agree for `holds`
DIFFERING_POINTS = 2  # points at which they must differ beyond the differences' own error for FALSE
MAX_POINTS = 8  # points drawn before a line that neither agrees nor differs is undecided
SMALL_TRIES = 3  # tries for a counterexample at the smallest sizes before a larger one is shown
TIME_LIMIT = 2.0  # seconds of CPU time for one identity, a safety net under the work budgets of checks and proofs
INTERNAL_ERROR = "internal error"  # the start of the detail of an error row that is matcalc's fault


@dataclass(slots=True)
class CheckResult:
    line: int
    text: str
    status: str  # one of STATUSES
    max_error: float | None = None
    detail: str = ""
    column: int | None = None
    file: str = "-"

    @property
    def holds(self) -> bool:
        return self.status in (PROVED, HOLDS)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class Identity:
    """One identity line with the declarations and layout in force where it stands."""

    line: int
    text: str
    env: Env
    layout: Layout
    file: str = "-"
    seed: int = 0
    notation: str = "index"  # "vec": a derivative of more than two axes is ∂vec(F)/∂vec(X)ᵀ


@dataclass
class _Context:
    env: Env = field(default_factory=Env)
    layout: Layout = Layout.NUMERATOR
    notation: str = "index"


def source_lines(source: str) -> Iterator[tuple[int, str]]:
    """(number, line) of a file's text: only "\n" ends a line (form feeds, NEL and U+2028 do not, as they do
    for str.splitlines), a "\r" before it is dropped, and so is a byte-order mark."""
    source = source.removeprefix("\ufeff")
    for number, raw in enumerate(source.split("\n"), start=1):
        yield number, raw.removesuffix("\r")


def read_identities(
    source: str, layout: Layout = Layout.NUMERATOR, file: str = "-", seed: int = 0
) -> Iterator[Identity | CheckResult]:
    """The identities of a file, each with its context; a bad `let` or `layout` line is an error result.

    A `let` line declares the names it mentions, replacing an earlier declaration of the same name (a new
    shape or kind); the names it does not mention keep theirs (SPEC §1, §5)."""
    context = _Context(layout=layout)
    for number, raw in source_lines(source):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        keyword, _, rest = text.partition(" ")
        if keyword == "let":
            try:
                context.env = redeclared(context.env, rest)  # its errors with columns on this line
            except MatcalcError as error:
                yield _error(number, text, error, rest, offset=raw.index(rest), file=file)
            continue
        if keyword == "layout":
            try:
                context.layout = Layout(rest.strip())
            except ValueError:
                yield CheckResult(
                    number,
                    text,
                    ERROR,
                    detail=f"unknown layout '{rest.strip()}': numerator, denominator or mixed",
                    column=raw.index(rest) + 1,
                    file=file,
                )
        elif keyword == "notation":
            if rest.strip() in ("index", "vec"):
                context.notation = rest.strip()
            else:
                yield CheckResult(
                    number,
                    text,
                    ERROR,
                    detail=f"unknown notation '{rest.strip()}': index or vec",
                    column=raw.index(rest) + 1 if rest else len(raw),
                    file=file,
                )
        else:
            yield Identity(number, text, context.env, context.layout, file, line_seed(seed, text), context.notation)


def line_seed(seed: int, text: str) -> int:
    """The seed of one identity's points: from the run's seed and the identity's own text (not where it
    stands in its file, nor Python's per-process string hashing), so its verdict is the same wherever
    it is checked."""
    return int.from_bytes(hashlib.sha256(f"{seed}\n{text}".encode()).digest()[:8], "big")


def redeclared(env: Env, let: str) -> Env:
    """The declarations of env with those of the text of a `let` line in force: a name it declares gets its
    new shape or kind, the others keep theirs. A name may not be both a variable and a dimension."""
    new = parse_declarations(let)
    decls = {name: decl for name, decl in env.decls.items() if name not in new.decls} | new.decls
    merged = Env(decls)
    for name in sorted(merged.dimension_names & decls.keys()):
        found = re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", let)
        raise DeclarationError(
            f"{name} is declared as a variable and used as a dimension",
            span=Span(found.start(), found.end()) if found else None,
        )
    return merged


def check_identity(identity: Identity) -> CheckResult:
    """Check one identity: numerically always, symbolically where possible. Whatever happens, a verdict
    or an error row: one line never stops the run."""
    try:
        with time_limit(TIME_LIMIT):
            return _check(identity)
    except MatcalcError as error:
        return _error(identity.line, identity.text, error, identity.text, file=identity.file)
    except OutOfTime:
        return CheckResult(
            identity.line,
            identity.text,
            ERROR,
            file=identity.file,
            detail=f"not answered within {TIME_LIMIT:g} s of CPU time, the limit for one identity: "
            "too large to check (not supported yet)",
        )
    except RecursionError:
        return CheckResult(
            identity.line,
            identity.text,
            ERROR,
            file=identity.file,
            detail="the identity is too deeply nested to work with",
        )
    except MemoryError:
        return CheckResult(
            identity.line,
            identity.text,
            ERROR,
            file=identity.file,
            detail="the identity needs more memory than matcalc allows itself (not supported yet)",
        )
    except Exception as error:
        return CheckResult(
            identity.line,
            identity.text,
            ERROR,
            file=identity.file,
            detail=f"{INTERNAL_ERROR}: {type(error).__name__}: {error} (please report it with this line)",
        )


def _error(line: int, text: str, error: MatcalcError, source: str, offset: int = 0, file: str = "-") -> CheckResult:
    error.with_source(source)
    column = error.column()
    detail = error.message + (f" ({error.hint})" if error.hint else "")
    return CheckResult(line, text, ERROR, detail=detail, column=None if column is None else column + offset, file=file)


def _check(identity: Identity) -> CheckResult:
    env = identity.env
    lhs, rhs = typed_sides(identity.text, env, identity.layout, identity.notation)
    result = CheckResult(identity.line, identity.text, HOLDS, file=identity.file)
    if not _shapes_agree(lhs, rhs):
        return _shape_mismatch(identity, env, result, lhs, rhs)
    try:
        numbers: _Numbers | UnsupportedError = _numbers(lhs, rhs, env, identity.seed)
    except UnsupportedError as error:  # no numeric check (sizes, singular matrices): a proof still settles it
        numbers = error
    if _proved(lhs, rhs, env):  # exact: it stands whatever the points say
        result.status = PROVED
        if isinstance(numbers, UnsupportedError):
            result.detail = f"not checked numerically: {numbers.message}"
        elif numbers.status == HOLDS:
            result.max_error = numbers.max_error
        else:
            result.detail = f"the random points did not confirm it ({numbers.status}): {numbers.detail}"
        return result
    if isinstance(numbers, UnsupportedError):
        raise numbers
    result.status, result.max_error = numbers.status, numbers.max_error
    if numbers.status == FALSE:
        hint = _other_layout_hint(identity, env, lhs, rhs)
        own = _own_derivative(lhs, rhs, env, identity.layout)
        result.detail = "; ".join(part for part in (hint, numbers.detail, own) if part)
    else:
        result.detail = numbers.detail
    return result


def typed_sides(text: str, env: Env, layout: Layout, notation: str = "index") -> tuple[n.Node, n.Node]:
    """The two sides of an identity as typed trees. A side that is a derivative of more than two axes
    (d2/dx2 tanh(C x), d/dX X) has no matrix shape, so the checker refuses it inside an expression; as a
    whole side it is the Derivative node itself (numeric.is_tensor), compared entry by entry, or in vec
    notation the matrix ∂vec(F)/∂vec(X)ᵀ (vec_form.vec_shape)."""
    trees = parse_equation(text, env.decls.keys())
    try:
        lhs, rhs = (checked.expr for checked in check_all(list(trees), env, text, layout, same_shape=True))
    except UnsupportedError:
        if not any(isinstance(tree, Deriv) for tree in trees):
            raise
        return _tensor_sides(trees, text, env, layout, notation)
    return lhs, rhs


def _tensor_sides(
    trees: tuple[Syntax, Syntax], text: str, env: Env, layout: Layout, notation: str = "index"
) -> tuple[n.Node, n.Node]:
    """The sides with their outermost derivatives taken apart: the operands are checked together (so
    they share their names' shapes), then each derivative is put back with the shape its layout gives."""
    inner = [tree.operand if isinstance(tree, Deriv) else tree for tree in trees]
    checked = [c.expr for c in check_all(inner, env, text, layout)]
    sides = []
    for tree, expr in zip(trees, checked):
        if not isinstance(tree, Deriv):
            sides.append(expr)
            continue
        wrt = _variable(tree, expr, env)
        dims = derivative_shape(expr.shape, wrt.shape, layout, tree.order)
        shape = SCALAR if len(dims) > 2 else Shape(dims[0], 1) if len(dims) == 1 else Shape(*dims)
        jacobian = vec_shape(expr.shape, wrt.shape, layout, tree.order) if notation == "vec" else None
        if jacobian is not None:
            sides.append(n.Derivative(expr, wrt, tree.order, layout.value, "vec", span=tree.span, shape=jacobian))
            continue
        sides.append(n.Derivative(expr, wrt, tree.order, layout.value, span=tree.span, shape=shape))
    return sides[0], sides[1]


def _variable(tree: Deriv, operand: n.Node, env: Env) -> n.Var:
    """The variable of d/dV, as the checker finds it for a derivative inside an expression."""
    name = tree.wrt.id
    if name in env.functions:
        raise ShapeError(f"{name} is a function: a derivative is taken with respect to a variable", span=tree.wrt.span)
    used = n.variables(operand)
    if name not in used and name not in env.decls:
        raise UnknownSymbolError(f"the variable {name} does not appear in the expression", span=tree.wrt.span)
    return n.Var(name, span=tree.wrt.span, shape=env.decls[name].shape if name in env.decls else used[name])


def _shapes_agree(lhs: n.Node, rhs: n.Node) -> bool:
    """Equal shapes; or one side is 0, which stands for a zero of any shape."""
    from .numeric.differences import side_axes

    return side_axes(lhs) == side_axes(rhs) or _is_zero(lhs) or _is_zero(rhs)


def _is_zero(node: n.Node) -> bool:
    return isinstance(node, n.Number) and node.value == 0


def _shape_text(side: n.Node) -> str:
    from .numeric.differences import is_tensor, side_axes

    return "(" + ", ".join(map(str, side_axes(side))) + ")" if is_tensor(side) else str(side.shape)


def _shape_mismatch(identity: Identity, env: Env, result: CheckResult, lhs: n.Node, rhs: n.Node) -> CheckResult:
    result.status = FALSE
    result.detail = f"the two sides have different shapes: {_shape_text(lhs)} and {_shape_text(rhs)}"
    hint = _other_layout_hint(identity, env, lhs, rhs)
    own = _own_derivative(lhs, rhs, env, identity.layout)
    result.detail = "; ".join(part for part in (hint, result.detail, own) if part)
    return result


# The numbers: what the points say


@dataclass
class _Numbers:
    status: str  # HOLDS, FALSE or UNDECIDED
    max_error: float | None  # None where no point gave both sides a finite value
    detail: str = ""


def _numbers(lhs: n.Node, rhs: n.Node, env: Env, seed: int) -> _Numbers:
    """The verdict of the points: HOLDS where the sides agree at POINTS points and differ at none,
    FALSE where they differ beyond the differences' own error at DIFFERING_POINTS, else UNDECIDED after
    MAX_POINTS points. Raises UnsupportedError where no point can be found at all."""
    from .numeric.differences import AGREE, DIFFER, Sampler, read_sides

    sampler = Sampler(lhs, rhs, env, seed)
    readings: list[Reading] = []
    for _ in range(MAX_POINTS):
        try:
            point = sampler.point()
        except UnsupportedError as error:
            if not readings:
                raise
            return _undecided(readings, f"no further point was found ({error.message})")
        readings.append(read_sides(lhs, rhs, point))
        verdicts = [reading.verdict for reading in readings]
        if verdicts.count(DIFFER) >= DIFFERING_POINTS:
            worst = max(reading.difference for reading in readings if reading.verdict == DIFFER)
            return _Numbers(FALSE, worst, _counterexample(lhs, rhs, sampler, readings, worst))
        if verdicts.count(AGREE) >= POINTS and DIFFER not in verdicts:
            return _Numbers(HOLDS, max(reading.difference for reading in readings))
    return _undecided(readings)


def _undecided(readings: list[Reading], stopped: str = "") -> _Numbers:
    """UNDECIDED, and why: the sides differ at too few points, or their differences are within their
    error, or (`stopped`) no more points could be found."""
    from .numeric.differences import AGREE, DIFFER, UNCLEAR

    verdicts = [reading.verdict for reading in readings]
    finite = [reading.difference for reading in readings if reading.difference < float("inf")]
    worst = max(finite) if finite else None
    points = f"{len(readings)} point{'s' if len(readings) != 1 else ''}"
    if stopped:
        reason = (
            f"the sides agree at {verdicts.count(AGREE)} of {points} and differ beyond their error at "
            f"{verdicts.count(DIFFER)}, but {stopped}"
        )
    elif DIFFER in verdicts:
        reason = (
            f"the sides differ beyond the finite differences' error at {verdicts.count(DIFFER)} of {points}, "
            f"agree at {verdicts.count(AGREE)}"
        )
    else:
        reason = (
            f"the numbers cannot resolve the sides: at {verdicts.count(UNCLEAR)} of {points} their difference is "
            "within its estimated error (of finite differences, or of rounding)"
        )
    largest = f" (largest relative difference {worst:.2g})" if worst is not None else ""
    return _Numbers(UNDECIDED, worst, reason + largest)


def _counterexample(lhs: n.Node, rhs: n.Node, sampler: Sampler, readings: list[Reading], worst: float) -> str:
    """A point where the sides differ beyond the differences' error, at the smallest sizes if one is
    found there, shown with as many digits as make its two sides visibly differ."""
    from .numeric.differences import DIFFER, read_sides

    shown = None
    for _ in range(SMALL_TRIES):
        try:
            reading = read_sides(lhs, rhs, sampler.point(first=2))
        except UnsupportedError:
            break
        if reading.verdict == DIFFER:
            shown = reading
            break
    if shown is None:
        shown = max((r for r in readings if r.verdict == DIFFER), key=lambda r: r.difference)
    return _describe(shown, worst)


def _describe(reading: Reading, worst: float) -> str:
    from .numeric.differences import short, shown_apart

    assert reading.left is not None and reading.right is not None
    point = reading.point
    sizes = ", ".join(
        f"{name}={size}" if isinstance(name, str) else f"{name} checked at size {size}"
        for name, size in point.sizes.items()
    )
    variables = "; ".join(f"{name} = {short(value)}" for name, value in point.values.items())
    sides = shown_apart(reading.left.value, reading.right.value)
    where = f" with {sizes}" if sizes else ""
    return f"largest relative difference {worst:.2g}; for example{where}: {variables} gives {sides}"


def _other_layout_hint(identity: Identity, env: Env, lhs: n.Node, rhs: n.Node) -> str:
    """'holds in denominator layout, not in numerator' when another layout makes the identity true."""
    if not any(isinstance(node, n.Derivative) for side in (lhs, rhs) for node in n.walk(side)):
        return ""
    for layout in Layout:
        if layout is identity.layout:
            continue
        try:
            other_lhs, other_rhs = typed_sides(identity.text, env, layout, identity.notation)
            if _shapes_agree(other_lhs, other_rhs) and _agrees(other_lhs, other_rhs, env, identity.seed):
                return f"holds in {layout.value} layout, not in {identity.layout.value}"
        except MatcalcError:
            continue
    return ""


def _agrees(lhs: n.Node, rhs: n.Node, env: Env, seed: int) -> bool:
    """Whether the sides agree at POINTS points (the first look at each is enough to say so)."""
    from .numeric.differences import AGREE, Sampler, read_sides

    sampler = Sampler(lhs, rhs, env, seed)
    return all(read_sides(lhs, rhs, sampler.point(), settle=False).verdict == AGREE for _ in range(POINTS))


def _own_derivative(lhs: n.Node, rhs: n.Node, env: Env, layout: Layout) -> str:
    """What matcalc's own derivative is, when one side is a derivative."""
    from .calculus.differentiate import differentiate
    from .render.text import derivative_text

    for side in (lhs, rhs):
        if isinstance(side, n.Derivative):
            try:
                result = differentiate(side.operand, side.wrt, env, Layout(side.layout), side.order)
            except MatcalcError:
                return ""
            if side.notation == "vec":
                return _own_vec_form(result, env, side.layout)
            return f"matcalc's derivative in {side.layout} layout: {derivative_text(result)}"
    return ""


def _own_vec_form(result, env: Env, layout: str) -> str:
    """matcalc's derivative as ∂vec(F)/∂vec(X)ᵀ, read off its index form (vec_form), or why there is none."""
    from .algebra.builder import Builder
    from .calculus.vec import NO_KRONECKER_FORM, vec_form
    from .render.text import vec_text

    symmetric = frozenset(name for name in env.decls if env.is_symmetric(name))
    form = vec_form(result, Builder(symmetric, env.unit_sums))
    if form is None:
        return f"matcalc's derivative has {NO_KRONECKER_FORM}"
    return f"matcalc's derivative in {layout} layout: {vec_text(form.matrix)}"


def _proved(lhs: n.Node, rhs: n.Node, env: Env) -> bool:
    """Both sides, with matcalc's derivatives in place, simplify to the same expression."""
    from .numeric.prove import equal_symbolically

    try:
        return equal_symbolically(lhs, rhs, env)
    except MatcalcError:
        return False


def check_source(
    source: str, layout: Layout = Layout.NUMERATOR, file: str = "-", seed: int = 0, jobs: int = 1
) -> list[CheckResult]:
    """Check every identity of a file's text, in order."""
    return check_files([(file, source)], layout, seed, jobs)


def check_files(
    sources: list[tuple[str, str | MatcalcError]],
    layout: Layout = Layout.NUMERATOR,
    seed: int = 0,
    jobs: int = 1,
    on_start: Callable[[int], None] | None = None,
    on_checked: Callable[[], None] | None = None,
) -> list[CheckResult]:
    """Check every identity of several (name, text) files, in order; a text may be the error that kept the
    file from being read, which becomes its one error row. The callbacks let a caller show progress:
    on_start gets the number of identities, on_checked is called after each. The lines are read as they
    are checked, and equal messages are kept once, so that a long file of bad lines stays small."""
    if on_start:
        on_start(sum(isinstance(item, Identity) for item in _items(sources, layout, seed)))
    results = []
    messages: dict[str, str] = {}
    for item, result in _checked(_items(sources, layout, seed), jobs):
        result.detail = messages.setdefault(result.detail, result.detail)
        results.append(result)
        if on_checked and isinstance(item, Identity):
            on_checked()
    return results


def _items(
    sources: list[tuple[str, str | MatcalcError]], layout: Layout, seed: int
) -> Iterator[Identity | CheckResult]:
    return (item for name, text in sources for item in _file_items(name, text, layout, seed))


def _checked(
    items: Iterator[Identity | CheckResult], jobs: int
) -> Iterator[tuple[Identity | CheckResult, CheckResult]]:
    """(item, its result) in order: an identity checked, in worker processes when jobs > 1."""
    if jobs <= 1:
        for item in items:
            yield item, check_identity(item) if isinstance(item, Identity) else item
        return
    listed = list(items)
    checked = _map(check_identity, [item for item in listed if isinstance(item, Identity)], jobs)
    for item in listed:
        yield item, next(checked) if isinstance(item, Identity) else item


def _file_items(name: str, text: str | MatcalcError, layout: Layout, seed: int) -> Iterator[Identity | CheckResult]:
    """The items of one file; a file that could not be read (text is the error) is one error row."""
    if isinstance(text, MatcalcError):
        yield CheckResult(getattr(text, "line", 1), "", ERROR, detail=text.message, file=name)
    else:
        yield from read_identities(text, layout, name, seed)


def _map(function, items: list, jobs: int) -> Iterator:
    """function over items, in order, in worker processes when jobs > 1."""
    if jobs <= 1 or len(items) < 2:
        yield from map(function, items)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(function, items, chunksize=max(1, len(items) // (8 * jobs)))


def report_json(results: list[CheckResult]) -> dict:
    """The JSON report of `matcalc check` (schemas/check-report.schema.json)."""
    return {"results": [result.to_json() for result in results], "summary": _summary(results)}


def write_report_json(results: list[CheckResult], write: Callable[[str], object], rows: int = 1000) -> None:
    """The text of json.dumps(report_json(results), ensure_ascii=False), written `rows` results at a time,
    so that a long report is never held whole."""
    write('{"results": [')
    for start in range(0, len(results), rows):
        block = ", ".join(json.dumps(result.to_json(), ensure_ascii=False) for result in results[start : start + rows])
        write((", " if start else "") + block)
    write('], "summary": ' + json.dumps(_summary(results)) + "}")


def _summary(results: list[CheckResult]) -> dict[str, int]:
    counts = {status: sum(result.status == status for result in results) for status in STATUSES}
    return {
        "identities": len(results),
        "proved": counts[PROVED],
        "holds": counts[HOLDS],
        "false": counts[FALSE],
        "undecided": counts[UNDECIDED],
        "errors": counts[ERROR],
    }


def exit_status(results: list[CheckResult]) -> ExitStatus:
    """SPEC §5: 0 every identity holds, 1 some are false, 2 some could not be read, 3 some are undecided
    (and none false or unreadable); 4 where a row is matcalc's own error."""
    statuses = {result.status for result in results}
    if any(result.status == ERROR and result.detail.startswith(INTERNAL_ERROR) for result in results):
        return ExitStatus.INTERNAL
    if ERROR in statuses:
        return ExitStatus.INPUT
    if FALSE in statuses:
        return ExitStatus.FALSE
    return ExitStatus.UNSUPPORTED if UNDECIDED in statuses else ExitStatus.OK
