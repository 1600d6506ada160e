"""Every expression in examples/expressions.list parses."""

from pathlib import Path

import pytest

from matcalc import parse

EXAMPLES = Path(__file__).parent.parent / "examples" / "expressions.list"


def example_lines():
    let = None
    for number, line in enumerate(EXAMPLES.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("let "):
            let = line[4:]
            continue
        yield number, line, let


@pytest.mark.parametrize("number, line, let", list(example_lines()), ids=lambda v: str(v))
def test_example_parses(number, line, let):
    parsed = parse(line, let)
    assert parse(parsed.canonical, let).expr == parsed.expr


def test_examples_cover_the_spec_expressions():
    lines = {line for _, line, _ in example_lines()}
    for spec_example in ("||y - Xw||^2", "sum(w*x + b)", "x'Ax", "1/(2n) ||y - Xw||^2",
                         "-y' log(softmax(o))", "max(0, w'x + b)", "tr(A X B)", "log(det(X))"):
        assert spec_example in lines
