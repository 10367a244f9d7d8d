"""The rings of DESIGN.md section 3 hold: inner rings never import orchestration libraries."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "runbook"
INNER_RINGS = ("domain", "engines", "scenarios", "validation", "control", "runtime", "monitoring")
ORCHESTRATION = ("prefect", "great_expectations", "slack_sdk")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("ring", INNER_RINGS)
def test_inner_ring_never_imports_orchestration(ring: str) -> None:
    """No module of an inner ring imports Prefect, Great Expectations or slack_sdk, even lazily."""
    offenders = []
    for path in sorted((SRC / ring).rglob("*.py")):
        for name in _imported_modules(path):
            if name.split(".")[0] in ORCHESTRATION:
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert offenders == []


def test_runtime_import_is_light() -> None:
    """Importing runbook.runtime pulls in neither pandas, Prefect, GX nor slack_sdk."""
    code = (
        "import sys, runbook.runtime\n"
        "heavy = [m for m in ('pandas', 'prefect', 'great_expectations', 'slack_sdk') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_tasks_and_flows_hold_no_sql() -> None:
    """Flows and tasks are thin: no SQLAlchemy import, no SQL text."""
    root = SRC.parents[1]
    offenders = []
    for folder in ("flows", "tasks"):
        for path in sorted((root / folder).rglob("*.py")):
            for name in _imported_modules(path):
                if name.split(".")[0] == "sqlalchemy":
                    offenders.append(f"{folder}/{path.name} imports {name}")
    assert offenders == []
