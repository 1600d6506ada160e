"""`matcalc check`: files of identities -> one CheckResult per identity. Never prints.

    # a comment
    let x: vector(n), A: matrix(n, n)
    layout denominator
    d/dx x'Ax = (A + A')x
    tr(B C) = tr(C B)

`let` and `layout` lines hold until changed. Each identity is checked
numerically at random points (derivatives by finite differences of the
function itself, so the check never trusts the differentiator), and then
proved symbolically where matcalc can: both sides, with matcalc's derivatives
in place of `d/dV`, reduce to the same simplified expression. A bad line gives
an `error` result and the run goes on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

from . import nodes as n
from .checker import check_all
from .decls import Env, parse_declarations
from .errors import DeclarationError, MatcalcError, OutOfTime, Span, UnsupportedError, time_limit
from .layout import Layout
from .parser import parse_equation
from .result import TOLERANCE

PROVED, HOLDS, FALSE, ERROR = "proved", "holds (numerically)", "FALSE", "error"
POINTS = 3
TIME_LIMIT = 2.0  # seconds of CPU time for one identity, a safety net under the work budgets of checks and proofs
INTERNAL_ERROR = "internal error"  # the start of the detail of an error row that is matcalc's fault


@dataclass
class CheckResult:
    line: int
    text: str
    status: str  # PROVED, HOLDS, FALSE or ERROR
    max_error: float | None = None
    detail: str = ""
    column: int | None = None
    file: str = "-"

    @property
    def holds(self) -> bool:
        return self.status in (PROVED, HOLDS)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Identity:
    """One identity line with the declarations and layout in force where it stands."""

    line: int
    text: str
    env: Env
    layout: Layout
    file: str = "-"
    seed: int = 0


@dataclass
class _Context:
    env: Env = field(default_factory=Env)
    layout: Layout = Layout.NUMERATOR


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
        else:
            yield Identity(number, text, context.env, context.layout, file, seed + number)


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
    from .numeric import compare_sides  # NumPy only when there is something to check

    env = identity.env
    lhs_tree, rhs_tree = parse_equation(identity.text, env.decls.keys())
    lhs, rhs = (
        checked.expr
        for checked in check_all([lhs_tree, rhs_tree], env, identity.text, identity.layout, same_shape=True)
    )
    result = CheckResult(identity.line, identity.text, HOLDS, file=identity.file)
    if not _shapes_agree(lhs, rhs):
        return _shape_mismatch(identity, env, result, lhs, rhs)
    try:
        comparison = compare_sides(lhs, rhs, env, identity.seed, POINTS)
    except UnsupportedError as error:  # no numeric check (sizes, singular matrices): a proof still settles it
        if _proved(lhs, rhs, env):
            result.status, result.detail = PROVED, f"not checked numerically: {error.message}"
            return result
        raise
    result.max_error = comparison.max_error
    if comparison.max_error <= TOLERANCE:
        if _proved(lhs, rhs, env):
            result.status = PROVED
        return result
    result.status = FALSE
    result.detail = comparison.counterexample
    hint = _other_layout_hint(identity, env, lhs, rhs)
    own = _own_derivative(lhs, rhs, env, identity.layout)
    result.detail = "; ".join(part for part in (hint, comparison.counterexample, own) if part)
    return result


def _shapes_agree(lhs: n.Node, rhs: n.Node) -> bool:
    """Equal shapes; or one side is 0, which stands for a zero of any shape."""
    return lhs.shape == rhs.shape or _is_zero(lhs) or _is_zero(rhs)


def _is_zero(node: n.Node) -> bool:
    return isinstance(node, n.Number) and node.value == 0


def _shape_mismatch(identity: Identity, env: Env, result: CheckResult, lhs: n.Node, rhs: n.Node) -> CheckResult:
    result.status = FALSE
    result.detail = f"the two sides have different shapes: {lhs.shape} and {rhs.shape}"
    hint = _other_layout_hint(identity, env, lhs, rhs)
    own = _own_derivative(lhs, rhs, env, identity.layout)
    result.detail = "; ".join(part for part in (hint, result.detail, own) if part)
    return result


def _other_layout_hint(identity: Identity, env: Env, lhs: n.Node, rhs: n.Node) -> str:
    """'holds in denominator layout, not in numerator' when another layout makes the identity true."""
    from .numeric import compare_sides

    if not any(isinstance(node, n.Derivative) for side in (lhs, rhs) for node in n.walk(side)):
        return ""
    for layout in Layout:
        if layout is identity.layout:
            continue
        try:
            trees = parse_equation(identity.text, env.decls.keys())
            other_lhs, other_rhs = (c.expr for c in check_all(list(trees), env, identity.text, layout, same_shape=True))
        except MatcalcError:
            continue
        if not _shapes_agree(other_lhs, other_rhs):
            continue
        if compare_sides(other_lhs, other_rhs, env, identity.seed, POINTS).max_error <= TOLERANCE:
            return f"holds in {layout.value} layout, not in {identity.layout.value}"
    return ""


def _own_derivative(lhs: n.Node, rhs: n.Node, env: Env, layout: Layout) -> str:
    """What matcalc's own derivative is, when one side is a derivative."""
    from .render.text import derivative_text
    from .result import differentiate

    for side in (lhs, rhs):
        if isinstance(side, n.Derivative):
            try:
                result = differentiate(side.operand, side.wrt, env, Layout(side.layout), side.order)
            except MatcalcError:
                return ""
            return f"matcalc's derivative in {side.layout} layout: {derivative_text(result)}"
    return ""


def _proved(lhs: n.Node, rhs: n.Node, env: Env) -> bool:
    """Both sides, with matcalc's derivatives in place, simplify to the same expression."""
    from .prove import equal_symbolically

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
    file from being read, which becomes its one error row. The callbacks let a caller show progress: on_start gets the number of identities, on_checked is called after each."""
    items = [item for name, text in sources for item in _file_items(name, text, layout, seed)]
    identities = [item for item in items if isinstance(item, Identity)]
    if on_start:
        on_start(len(identities))
    checked = _map(check_identity, identities, jobs)
    results = []
    for item in items:
        if isinstance(item, Identity):
            item = next(checked)
            if on_checked:
                on_checked()
        results.append(item)
    return results


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
    counts = {status: sum(result.status == status for result in results) for status in (PROVED, HOLDS, FALSE, ERROR)}
    return {
        "results": [result.to_json() for result in results],
        "summary": {
            "identities": len(results),
            "proved": counts[PROVED],
            "holds": counts[HOLDS],
            "false": counts[FALSE],
            "errors": counts[ERROR],
        },
    }
