"""The fairness package's shape: one ECE, no import cycles, small functions, no fairlearn."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from fairness.metrics import expected_calibration_error, score_bins, strata_calibration_error

PACKAGE = Path(__file__).resolve().parents[2] / "fairness"
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, ast.Module]:
    return {
        "fairness." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts): ast.parse(
            path.read_text("utf-8")
        )
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _imports(tree: ast.Module) -> set[str]:
    """Every fairness module imported anywhere in the module (function-local ones too)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fairness"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("fairness"))
    return found


def test_no_import_cycles_inside_fairness() -> None:
    modules = _modules()
    graph = {
        name: {m for m in _imports(tree) if m in modules and m != name and m != "fairness.__init__"}
        for name, tree in modules.items()
        if name != "fairness.__init__"
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt}))
            for nxt in graph.get(start, ())
        )

    cycles = [name for name in graph if reaches(name, name, {name})]
    assert cycles == []


def test_fairlearn_is_not_a_runtime_dependency() -> None:
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module] if isinstance(node, ast.ImportFrom) else []
                names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
                assert not any(str(n).startswith("fairlearn") for n in names), name


def test_functions_are_short() -> None:
    long = [
        f"{name}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for name, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 - _docstring_lines(node) > MAX_FUNCTION_LINES
    ]
    assert long == []


def _docstring_lines(node: ast.FunctionDef) -> int:
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        return (first.end_lineno or first.lineno) - first.lineno + 1
    return 0


def test_expected_calibration_error_by_hand() -> None:
    label = np.array([0, 1, 1, 0, 1, 0], dtype=float)
    probability = np.array([0.05, 0.15, 0.55, 0.45, 0.95, 0.91])
    # bins (10 wide): 0 -> {0.05: 0}; 1 -> {0.15: 1}; 4 -> {0.45: 0}; 5 -> {0.55: 1};
    # 9 -> {0.95: 1, 0.91: 0}
    gaps = [0.05, 0.85, 0.45, 0.45, abs(0.95 + 0.91 - 1)]
    assert expected_calibration_error(label, probability) == pytest.approx(sum(gaps) / 6)
    assert expected_calibration_error(np.array([0, 1]), np.array([0.5, 0.5]), bins=10) == 0.0
    assert np.isnan(expected_calibration_error(np.array([]), np.array([])))


def test_expected_calibration_error_is_the_per_cell_form_on_one_cell() -> None:
    rng = np.random.default_rng(3)
    probability = rng.random(5000)
    label = (rng.random(5000) < probability**1.3).astype(float)
    bins = 15
    stratum = score_bins(probability, bins) * 2 + label.astype(np.intp)
    counts = np.bincount(stratum, minlength=2 * bins).reshape(1, bins, 2).astype(float)
    sums = np.bincount(stratum, weights=probability, minlength=2 * bins).reshape(1, bins, 2)
    per_cell = strata_calibration_error(counts, sums)
    assert expected_calibration_error(label, probability, bins=bins) == pytest.approx(per_cell[0])
