"""Imports flow one way: parse -> shapes -> (diff) -> render; cli on top (STYLE.md)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "matcalc"

# A module may import only modules of a lower layer.
LAYERS = {
    "errors": 0,
    "shapes": 1, "tokens": 1, "syntax": 1,
    "latex_input": 2,
    "nodes": 2, "layout": 2, "decls": 2, "assign": 2,
    "parser": 3, "build": 3, "cse": 3,
    "tensor": 3.5,  # the index form: its pieces are multiplied out with the builder
    "functions": 3.5,  # the slope table, built with the builder, below both the rules and the simplifier
    "checker": 4,
    "lower": 5, "evaluate": 5, "rules": 5,
    "contract": 6, "prove": 6,
    "simplify": 3.7,  # every rewrite: above the builder, the index form and the slope table, below the calculus
    "result": 7,
    "vec_form": 7.5,  # reads the result's index form, before numeric and render
    "numeric": 8, "closed_form": 8, "steps": 8,
    "render": 9,
    "batch": 10, "selfcheck": 10,
    "codecheck": 10.5,  # after selfcheck (its error class), before api
    "vec_notation": 10.7,  # checks vec_form's results as selfcheck and codecheck do, before api
    "api": 11,
    "plotting": 12,
    "cli": 13,
    "__init__": 14, "__main__": 14,
}
# Third-party libraries and the only modules allowed to import them.
OWNERS = {"matplotlib": {"plotting"}, "click": {"cli"}, "rich": {"cli", "render.table"}, "sympy": {"lower", "render.sympy"},
          # api imports numpy lazily, for DiffResult.function() and the sample point of generated modules
          "numpy": {"evaluate", "numeric", "plotting", "selfcheck", "codecheck", "api", "vec_notation"}}
# Runs the code matcalc printed (held to the self-check's standard before it is shown); the user's text in it
# (the expression in a docstring or comment) is a placeholder in what runs, and codecheck.run checks that
# the text shown and the text run are the same program.
RUNS_PRINTED_CODE = {"codecheck": ("exec", "eval", "compile")}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        yield name, ast.parse(path.read_text())


def imported(name: str, tree: ast.AST):
    """(module inside matcalc or None, top-level package) for each import."""
    package_parts = name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield None, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield None, (node.module or "").split(".")[0]
                continue
            base = package_parts[: len(package_parts) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
            if target:
                yield ".".join(target), "matcalc"
            else:
                for alias in node.names:
                    yield alias.name, "matcalc"


def layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


@pytest.mark.parametrize("name, tree", list(modules()), ids=lambda value: value if isinstance(value, str) else "")
def test_imports_flow_downward(name, tree):
    for target, top in imported(name, tree):
        if target is not None:
            if name.split(".")[0] == target.split(".")[0] and name.split(".")[0] in ("render", "simplify"):
                continue
            assert layer(target) < layer(name) or name in ("__init__", "__main__"), f"{name} imports {target}"
        elif top in OWNERS:
            assert name in OWNERS[top], f"{name} imports {top}"


def test_every_module_has_a_layer():
    for name, _ in modules():
        assert name.split(".")[0] in LAYERS, name


def test_user_text_never_reaches_eval():
    for name, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                allowed = RUNS_PRINTED_CODE.get(name, ())
                assert node.func.id not in ("eval", "exec", "sympify", "compile") or node.func.id in allowed, name
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("sympify", "parse_expr"), name
