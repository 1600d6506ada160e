"""How many derivatives of the textbook corpus matcalc prints exactly as the textbook does.

    python scripts/corpus_report.py [examples/textbook-corpus.txt] [--all]

For each entry of the corpus (its format is described at the top of the file), this runs
`matcalc.diff(expr, wrt, let, layout, order)` and compares matcalc's ASCII text (`result.text`,
with its `where` names appended as `where t1 = ..., t2 = ...`) with the textbook form, both after
the normalisation of `normalise`:

- whitespace removed;
- `ᵀ` and `^T` read as `'`, `⊙` as `.*`, `⊘` as `./`, `⁻¹` as `^-1`, `δ` as `delta`, `𝟏` and
  `ones(n)` as `1`, `eye(n)` as `I`;
- redundant parentheses removed: outer ones always (`(A + A')x` keeps its own); and two forms are
  also the same where matcalc reads both with the corpus's declarations to the same canonical text,
  which keeps the tree as written and drops only the parentheses its parser does not need
  (`(1 / m) X'(X w - y)` is `1/m X'(X w - y)`, while `2lambda(1/2)w` and `X''` stay as they are);
- the order of commutative scalar factors: in matrix notation, the factors of each term that
  matcalc's own shape check calls scalars are sorted and put first (`2cos(z^2) z` is `2z cos(z^2)`,
  `I(x'x)` is `(x'x)I`; a term with `/`, `.*`, a norm or a `where` name is left as it is); in
  index notation (three or more axes) every factor is a scalar, so each term's factors are sorted,
  `delta_ki` is `delta_ik`, and the function's name in the header is a dummy (`∂X_ij/∂X_kl` is
  `∂Y_ij/∂X_kl`).

Nothing else is forgiven: terms of a sum are not reordered, `0.5` is not `1/2`, `X'(y - X w)` is not `X'y - X'X w`, a `where` name
is not the expression it names. The report prints the number and percentage of exact forms, then
each other entry with its line, the length ratio (matcalc's normalised length over the
textbook's) and the two forms side by side, and the entries that failed (an error is listed as
such, never hidden). It exits 0.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "examples" / "textbook-corpus.txt"
LONG = 1.5  # no result over 1.5× the textbook length

_ENTRY = re.compile(r"^d(?P<order>[2-9]?)/d(?P<wrt>[A-Za-z][A-Za-z0-9_]*?)(?P=order)\s+(?P<rest>.*)$")


@dataclass
class Entry:
    line: int
    expr: str
    wrt: str
    order: int
    layout: str
    let: str  # the declarations in force, one text
    form: str  # the textbook form
    source: str

    @property
    def index_notation(self) -> bool:
        return self.form.startswith("∂")


@dataclass
class Outcome:
    entry: Entry
    text: str = ""  # matcalc's result, with its where names
    error: str = ""
    exact: bool = False
    ratio: float = 0.0
    notes: list[str] = field(default_factory=list)


def merge(decls: dict[str, str], text: str) -> None:
    """A `let` line: later declarations add to or change the earlier ones (SPEC §5)."""
    depth, start, parts = 0, 0, []
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch in ",;" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    for part in parts:
        if part.strip():
            name, _, kind = part.partition(":")
            decls[name.strip()] = kind.strip()


def load(path: Path = CORPUS) -> list[Entry]:
    entries, decls, layout = [], {}, "numerator"
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("let "):
            merge(decls, line[4:])
            continue
        if line.startswith("layout "):
            layout = line.split()[1]
            continue
        match = _ENTRY.match(line)
        if not match or " # " not in line:
            raise ValueError(f"{path.name}:{number}: not an entry `d/dV EXPR = FORM  # SOURCE`: {line}")
        body, _, source = match["rest"].rpartition(" # ")
        expr, _, form = body.partition(" = ")
        if not form.strip() or not source.strip():
            raise ValueError(f"{path.name}:{number}: an entry needs a form and a source: {line}")
        let = ", ".join(f"{name}: {kind}" for name, kind in decls.items())
        entries.append(Entry(number, expr.strip(), match["wrt"], int(match["order"] or 1), layout, let,
                             form.strip(), source.strip()))
    return entries


_REPLACEMENTS = [("ᵀ", "'"), ("^T", "'"), ("⊙", ".*"), ("⊘", "./"), ("⁻¹", "^-1"), ("δ", "delta"),
                 ("𝟏", "1"), ("·", "")]


def _strip_outer(text: str) -> str:
    while text.startswith("(") and text.endswith(")"):
        depth = 0
        for i, ch in enumerate(text):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(text) - 1:
                return text
        text = text[1:-1]
    return text


def _split_top(text: str, separators: str) -> list[str]:
    """Split at separators outside parentheses, keeping each separator with the part after it."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "(["
        depth -= ch in ")]"
        if depth == 0 and ch in separators and i > start:
            parts.append(text[start:i])
            start = i
    parts.append(text[start:])
    return parts


def _index_factors(term: str) -> list[str]:
    """`2 A_ij (B + C)_jk delta_kl` -> its factors: the parts separated by spaces outside parentheses."""
    factors, depth, start = [], 0, 0
    for i, ch in enumerate(term + " "):
        depth += ch == "("
        depth -= ch == ")"
        if ch == " " and depth == 0:
            if term[start:i].strip():
                factors.append(term[start:i].strip())
            start = i + 1
    return factors


_FUNCTIONS = {"exp", "log", "sin", "cos", "tan", "tanh", "arcsin", "arccos", "arctan", "sqrt", "sigmoid", "relu",
              "sign", "abs", "step", "sum", "mean", "tr", "trace", "det", "logdet", "diag", "dot", "softmax",
              "logsumexp", "max", "min", "norm", "norm1", "norm2", "ones", "eye", "vector", "matrix", "inv"}


def _chunks(term: str) -> list[str]:
    """The juxtaposed factors of a product, where they are easy to see: at spaces outside parentheses,
    after a leading number (`2z`), and between `)` and what follows it, or a name and a parenthesis that
    is not a call (`X'(X w - y)`, `(x'x)I`)."""
    chunks, depth, current = [], 0, ""
    for i, ch in enumerate(term):
        if depth == 0 and ch == " ":
            chunks.append(current)
            current = ""
            continue
        if depth == 0 and current:
            name = re.search(r"[A-Za-z][A-Za-z0-9]*$", current)
            if (re.fullmatch(r"[0-9.]+", current) and (ch.isalpha() or ch == "(")) \
                    or (current.endswith(")") and (ch.isalpha() or ch == "(")) \
                    or (ch == "(" and current[-1] in "'" ) \
                    or (ch == "(" and name and name.group() not in _FUNCTIONS):
                chunks.append(current)
                current = ""
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    chunks.append(current)
    return [c for c in chunks if c]


def _is_scalar(chunk: str, let: str | None) -> bool | None:
    """Whether matcalc's shape check makes the factor a scalar; None where it cannot tell."""
    from matcalc import parse

    if chunk == "I":  # an identity takes its size from the context
        return False
    try:
        parsed = parse(chunk, let)
    except Exception:
        return None
    return None if parsed.assumed else parsed.shape.is_scalar


def _scalar_factors_first(text: str, let: str | None) -> str:
    """In each term of a sum, the factors that are scalars (by matcalc's own shape check) sorted and put
    first: `2cos(z^2) z` and `2z cos(z^2)` are the same form, so are `I(x'x)` and `(x'x)I`. A term with a
    division, an elementwise operator, a norm or a name matcalc does not know (a `where` name) is left
    as it is."""

    terms = []
    for term in _split_top(text.replace(" - ", " + -"), "+"):
        term = term.lstrip("+").strip()
        sign = "-" if term.startswith("-") else ""
        body = term[1:].strip() if sign else term
        chunks = _chunks(body)
        if len(chunks) > 1 and not re.search(r"[|/*@]", body):
            kinds = [_is_scalar(chunk, let) for chunk in chunks]
            if None not in kinds:
                scalars = sorted(c for c, scalar in zip(chunks, kinds) if scalar)
                body = " ".join(scalars + [c for c, scalar in zip(chunks, kinds) if not scalar])
        terms.append(sign + body)
    return " + ".join(terms).replace("+ -", "- ")


def _canonical(text: str, let: str) -> str:
    """matcalc's canonical text of a form it reads with no name left to guess: the tree as written, with
    only its redundant parentheses and spacing gone (`(1 / m) X'(X w - y)` is `1/m X'(X w - y)`;
    `2lambda(1/2)w` and `X''` stay as they are). Anything else (a `where` name, a lone `I`) as it is."""
    from matcalc import parse

    if " where " in text:
        return text
    try:
        parsed = parse(text, let)
    except Exception:
        return text
    return text if parsed.assumed else parsed.canonical


def normalise(text: str, let: str | None = None, canonical: bool = False) -> str:
    """The form as compared: see the module docstring. With `let`, scalar factors are reordered; with
    `canonical` too, the form is first rewritten as matcalc's canonical text."""
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    text = re.sub(r"(?<![A-Za-z_])ones\([^()]*\)", "1", text)
    text = re.sub(r"(?<![A-Za-z_])eye\([^()]*\)", "I", text)
    text = re.sub(r"delta_([a-z])([a-z])", lambda m: "delta_" + "".join(sorted(m.group(1) + m.group(2))), text)
    if text.startswith("∂") and " = " in text:
        head, _, body = text.partition(" = ")
        head = re.sub(r"^∂([²³⁴]?)[A-Za-z][A-Za-z0-9]*", r"∂\1f", head)  # the function's name is a dummy
        terms = []
        for term in _split_top(body.replace(" - ", " + -"), "+"):
            term = term.lstrip("+").strip()
            sign = "-" if term.startswith("-") else ""
            factors = _index_factors(term.lstrip("-").strip())
            terms.append(sign + " ".join(sorted(factors)))
        text = head + "=" + "+".join(terms).replace("+-", "-")
    elif let is not None:
        text = _scalar_factors_first(_canonical(text, let) if canonical else text, let)
    text = re.sub(r"\s+", "", text)
    return _strip_outer(text)


def shown(result) -> str:
    """matcalc's result as one line: its ASCII text and its where names."""
    text = result.text
    if result.where:
        text += "  where " + ", ".join(f"{name} = {value}" for name, value in result.where)
    return text


def run(entries: list[Entry]) -> list[Outcome]:
    from matcalc import diff

    outcomes = []
    for entry in entries:
        outcome = Outcome(entry)
        try:
            result = diff(entry.expr, entry.wrt, let=entry.let, layout=entry.layout, order=entry.order)
            outcome.text = shown(result)
        except Exception as error:  # a crash or a failed self-check is a finding: listed, never hidden
            outcome.error = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            outcomes.append(outcome)
            continue
        ours, theirs = normalise(outcome.text, entry.let), normalise(entry.form, entry.let)
        outcome.exact = ours == theirs or \
            normalise(outcome.text, entry.let, True) == normalise(entry.form, entry.let, True)
        outcome.ratio = len(ours) / max(len(theirs), 1)
        outcomes.append(outcome)
    return outcomes


def summary(outcomes: list[Outcome]) -> dict:
    total = len(outcomes)
    exact = sum(o.exact for o in outcomes)
    return {"entries": total, "exact": exact, "percent": 100 * exact / total if total else 0.0,
            "long": sum(o.ratio > LONG for o in outcomes if not o.error),
            "errors": sum(bool(o.error) for o in outcomes)}


def report(outcomes: list[Outcome], show_all: bool = False) -> str:
    s = summary(outcomes)
    lines = [f"textbook corpus: {s['entries']} entries; {s['exact']} ({s['percent']:.1f}%) print exactly the "
             f"textbook form; {s['long']} over {LONG}x its length; {s['errors']} errors", ""]
    others = [o for o in outcomes if not o.exact and not o.error]
    if others:
        lines.append(f"not in the textbook form ({len(others)}), worst ratio first:")
        for o in sorted(others, key=lambda o: -o.ratio):
            e = o.entry
            order = "" if e.order == 1 else e.order
            lines.append(f"  line {e.line}  {o.ratio:.2f}x  d{order}/d{e.wrt}{order} "
                         f"{e.expr}  ({e.layout}; {e.source})")
            lines.append(f"      textbook: {e.form}")
            lines.append(f"      matcalc:  {o.text}")
    errors = [o for o in outcomes if o.error]
    if errors:
        lines += ["", f"errors ({len(errors)}):"]
        for o in errors:
            lines.append(f"  line {o.entry.line}  d/d{o.entry.wrt} {o.entry.expr}: {o.error}")
    if show_all:
        lines += ["", "exact:"]
        lines += [f"  line {o.entry.line}  {o.entry.form}" for o in outcomes if o.exact]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    path = Path(args[0]) if args else CORPUS
    start = time.perf_counter()
    outcomes = run(load(path))
    print(report(outcomes, "--all" in argv))
    print(f"\n({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
