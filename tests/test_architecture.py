"""Imports flow one way, folder by folder: the model, the language, the algebra, the simplifier, the
calculus, the renderers, the numbers, and the commands on top (docs/architecture.md)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "matcalc"

# The stages in order; a module may import modules of its own stage or of a lower one.
STAGES = ("model", "language", "algebra", "simplify", "calculus", "render", "numeric", "commands")
# Modules at the package's top level belong to the model (pure records) or to the commands.
TOP_LEVEL = {
    "errors": "model", "shapes": "model", "layout": "model", "nodes": "model",
    "api": "commands", "batch": "commands", "plotting": "commands", "cli": "commands",
    "__init__": "commands", "__main__": "commands",
}
# Third-party libraries and the only modules allowed to import them.
OWNERS = {
    "matplotlib": {"plotting"},
    "click": {"cli"},
    "rich": {"cli", "render.table"},
    "sympy": {"render.to_sympy", "render.sympy"},
    # api imports numpy lazily, for DiffResult.function() and the sample point of generated modules
    "numpy": {"numeric", "plotting", "api"},
}
# Runs the code matcalc printed (held to the self-check's standard before it is shown); the user's text in it
# (the expression in a docstring or comment) is a placeholder in what runs, and codecheck.run checks that
# the text shown and the text run are the same program.
RUNS_PRINTED_CODE = {"numeric.codecheck": ("exec", "eval", "compile")}


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
            if node.module is None or (PACKAGE.joinpath(*target) / "__init__.py").exists():
                for alias in node.names:  # from .package import module
                    yield ".".join([*target, alias.name]) if _is_module([*target, alias.name]) else ".".join(target), "matcalc"
            else:
                yield ".".join(target), "matcalc"


def _is_module(parts: list[str]) -> bool:
    path = PACKAGE.joinpath(*parts)
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def stage(module: str) -> str:
    head = module.split(".")[0]
    return TOP_LEVEL.get(head, head)


def owner_allows(owners: set[str], module: str) -> bool:
    return any(module == owner or module.startswith(owner + ".") for owner in owners)


def import_graph() -> dict[str, set[str]]:
    return {name: {target for target, _ in imported(name, tree) if target} for name, tree in modules()}


@pytest.mark.parametrize("name, tree", list(modules()), ids=lambda value: value if isinstance(value, str) else "")
def test_imports_flow_down_the_stages(name, tree):
    for target, top in imported(name, tree):
        if target is not None:
            assert STAGES.index(stage(target)) <= STAGES.index(stage(name)), f"{name} ({stage(name)}) imports {target}"
        elif top in OWNERS:
            assert owner_allows(OWNERS[top], name), f"{name} imports {top}"


def test_every_module_is_in_a_stage():
    for name, _ in modules():
        assert stage(name) in STAGES, name


def test_every_stage_folder_is_a_package():
    for folder in STAGES:
        if folder not in ("model", "commands"):
            assert (PACKAGE / folder / "__init__.py").exists(), folder


def test_no_import_cycles():
    graph = import_graph()
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if target == module or target.endswith("__init__"):
                continue
            assert state.get(target) != "open", " -> ".join([*path, module, target])
            if target not in state:
                visit(target, [*path, module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state and module != "__init__":
            visit(module, [])


def test_user_text_never_reaches_eval():
    for name, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                allowed = RUNS_PRINTED_CODE.get(name, ())
                assert node.func.id not in ("eval", "exec", "sympify", "compile") or node.func.id in allowed, name
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("sympify", "parse_expr"), name
