"""Each rule of matcalc/simplify alone, on fixtures written by hand (as sqlglot's optimizer tests do).

A fixture file `tests/fixtures/simplify/<rule>.txt` holds `let` lines (declarations, as in identity files)
and lines `INPUT = EXPECTED  # source`: the rule alone, applied to INPUT (parsed as written), must print
EXPECTED. Every fixture is also checked numerically at a random point with distinct sizes (n = 3,
m = 4): INPUT, EXPECTED and what the rule wrote have the same value, so a fixture cannot state a
wrong form, and the rule cannot pass by printing the right text for a different tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from matcalc import nodes as n
from matcalc import parse
from matcalc.algebra.builder import Builder
from matcalc.numeric.evaluate import evaluate
from matcalc.render.text import expression_text
from matcalc.simplify import RULES
from matcalc.simplify.collect import collect

FIXTURES = Path(__file__).parent / "fixtures" / "simplify"
SIZES = {"n": 3, "m": 4}
SYMMETRIC = frozenset({"S"})


def collect_terms(node: n.Node, build: Builder, keep: frozenset) -> n.Node:
    """collect, given the terms of a sum as the differentiator gives them."""
    return collect(n.flatten(node, n.Add), build)


RULE_BY_NAME = {rule.__name__: rule for rule in RULES} | {"collect": collect_terms}


@dataclass(frozen=True)
class Fixture:
    rule: str
    line: int
    let: str
    given: str
    expected: str
    source: str

    @property
    def id(self) -> str:
        return f"{self.rule}.txt:{self.line}"


def read_fixtures(path: Path) -> list[Fixture]:
    fixtures, let = [], ""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text, _, source = line.partition("#")
        text = text.strip()
        if not text:
            continue
        if text.startswith("let "):
            let = ", ".join(part for part in (let, text[4:].strip()) if part)
            continue
        given, equals, expected = text.partition(" = ")
        assert equals, f"{path.name}:{number}: a fixture is INPUT = EXPECTED"
        fixtures.append(Fixture(path.stem, number, let, given.strip(), expected.strip(), source.strip()))
    return fixtures


ALL = [fixture for path in sorted(FIXTURES.glob("*.txt")) for fixture in read_fixtures(path)]


def random_point(shapes: dict, rng: np.random.Generator) -> dict[str, np.ndarray]:
    values = {}
    for name, shape in shapes.items():
        rows, cols = (SIZES.get(dim, dim) for dim in (shape.rows, shape.cols))
        value = rng.normal(size=(rows, cols))
        values[name] = (value + value.T) / 2 if name in SYMMETRIC else value
    return values


@pytest.mark.parametrize("fixture", ALL, ids=lambda fixture: fixture.id)
def test_the_rule_alone_writes_the_expected_form(fixture: Fixture):
    given = parse(fixture.given, fixture.let).expr
    written = RULE_BY_NAME[fixture.rule](given, Builder(SYMMETRIC), frozenset())
    assert expression_text(written) == fixture.expected, f"{fixture.id}: {fixture.source}"


@pytest.mark.parametrize("fixture", ALL, ids=lambda fixture: fixture.id)
def test_the_fixture_and_the_rule_keep_the_value(fixture: Fixture):
    given = parse(fixture.given, fixture.let)
    expected = parse(fixture.expected, fixture.let).expr
    written = RULE_BY_NAME[fixture.rule](given.expr, Builder(SYMMETRIC), frozenset())
    values = random_point(given.shapes(), np.random.default_rng(fixture.line))
    before = evaluate(given.expr, values, SIZES)
    for after in (expected, written):
        np.testing.assert_allclose(np.broadcast_to(evaluate(after, values, SIZES), before.shape), before,
                                   rtol=1e-12, atol=1e-12)


def test_every_rule_has_fixtures():
    assert {fixture.rule for fixture in ALL} == set(RULE_BY_NAME)
    assert all(fixture.source for fixture in ALL), "every fixture names its source"
