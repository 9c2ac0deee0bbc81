"""The dependency rule: models imports none of the others; service never imports training."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "models": {"training", "service", "fairness"},
    "service": {"training"},
    "fairness": {"training", "service"},
    "scoring": {"training", "service", "fairness"},
}


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_dependency_rule(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imported_packages(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_top_level_layout_is_complete() -> None:
    for name in ("pyproject.toml", "README.md", "Makefile", "docker-compose.yml", ".ci/run"):
        assert (ROOT / name).is_file(), name
    for name in ("service", "training", "models", "fairness", "scoring", "tests", "bench", "docs"):
        assert (ROOT / name).is_dir(), name
