"""The dependency rule, checked statically on every module's imports.

- ``models`` imports none of the other packages; ``service`` and ``training`` never
  import each other; ``fairness`` imports neither; the ``tarve`` command line may
  import all of them.
- No import cycle inside a package, counting imports inside functions (they only hide
  a cycle) but not those under ``if TYPE_CHECKING:`` (they never run).
- MLflow is imported only by ``models/registry.py`` (reads), ``training/tracking.py``
  (writes) and ``models/pyfunc.py`` (the pyfunc wrapper MLflow loads).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "training", "fairness", "service", "scoring", "tarve")
FORBIDDEN = {
    "models": {"training", "service", "fairness", "tarve"},
    "service": {"training", "tarve"},
    "training": {"service", "tarve"},
    "fairness": {"training", "service", "tarve"},
    "scoring": {"training", "service", "fairness", "tarve"},
    "tarve": set(),
}
MLFLOW_MODULES = {"models.registry", "training.tracking", "models.pyfunc"}


@dataclass(frozen=True)
class Import:
    """One imported name: ``module`` always, ``name`` for ``from module import name``."""

    module: str
    name: str | None
    line: int


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _imports(path: Path) -> list[Import]:
    """Return the absolute imports of ``path`` that run (module level and inside functions)."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    found: list[Import] = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, None, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.extend(Import(target, alias.name, node.lineno) for alias in node.names)
    return found


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(path): path for path in sorted((ROOT / package).rglob("*.py"))}


def _import_graph(package: str) -> dict[str, set[str]]:
    """Map each module to the modules of the same package it imports.

    ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``.
    """
    modules = _modules(package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for item in _imports(path):
            submodule = f"{item.module}.{item.name}" if item.name else None
            if submodule in modules:
                targets.add(submodule)
            elif item.module in modules:
                targets.add(item.module)
        targets.discard(name)
        graph[name] = targets
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_dependency_rule(package: str) -> None:
    offenders = []
    for name, path in _modules(package).items():
        bad = {item.module.split(".")[0] for item in _imports(path)} & FORBIDDEN[package]
        if bad:
            offenders.append(f"{name} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle_inside_package(package: str) -> None:
    cycles = find_cycles(_import_graph(package))
    assert not cycles, "\n".join(" <-> ".join(cycle) for cycle in cycles)


def test_mlflow_is_imported_only_by_the_registry_tracking_and_pyfunc() -> None:
    offenders = []
    for package in PACKAGES:
        for name, path in _modules(package).items():
            if name in MLFLOW_MODULES:
                continue
            lines = [i.line for i in _imports(path) if i.module.split(".")[0] == "mlflow"]
            if lines:
                offenders.append(f"{name} imports mlflow (line {lines[0]})")
    assert not offenders, "\n".join(offenders)


def test_checks_see_function_local_imports_but_not_type_checking_ones() -> None:
    assert find_cycles({"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}}) == [
        ["p.a", "p.b", "p.c"]
    ]
    source = "def f():\n    from models.model import x\nif TYPE_CHECKING:\n    import mlflow\n"
    seen = [
        node.module
        for node in _runtime_nodes(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
    ]
    assert seen == ["models.model"]
    assert not [node for node in _runtime_nodes(ast.parse(source)) if isinstance(node, ast.Import)]


def test_top_level_layout_is_complete() -> None:
    for name in ("pyproject.toml", "README.md", "Makefile", "docker-compose.yml", ".ci/run"):
        assert (ROOT / name).is_file(), name
    for name in (
        "service",
        "training",
        "models",
        "fairness",
        "scoring",
        "tarve",
        "tests",
        "bench",
        "docs",
    ):
        assert (ROOT / name).is_dir(), name
