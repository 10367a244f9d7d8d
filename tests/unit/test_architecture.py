"""The rings of DESIGN.md section 3 hold: inner rings never reach orchestration, even indirectly.

Two views of the same rule. The static one reads every import with ``ast`` (lazy imports inside
functions included, ``TYPE_CHECKING`` blocks excluded) and follows the project's own modules
transitively. The dynamic one imports every module of a ring in a fresh interpreter and looks at
``sys.modules``, which also sees ``importlib`` calls the static view cannot read.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _import_graph import ImportGraph, violations

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "runbook"

# The outer edges: what speaks Prefect, the CLI that launches flows, and the flows themselves.
OUTER = ("flows", "tasks", "runbook.orchestration", "runbook._cli", "runbook.cli")
PREFECT, GX, SLACK = "prefect", "great_expectations", "slack_sdk"

# Each inner ring, and what it may not reach. quality is where GX lives, slack where slack_sdk does.
RINGS: dict[str, tuple[str, ...]] = {
    "domain": (*OUTER, PREFECT, GX, SLACK),
    "engines": (*OUTER, PREFECT, GX, SLACK),
    "scenarios": (*OUTER, PREFECT, GX, SLACK),
    "validation": (*OUTER, PREFECT, GX, SLACK),
    "control": (*OUTER, PREFECT, GX, SLACK),
    "runtime": (*OUTER, PREFECT, GX, SLACK),
    "monitoring": (*OUTER, PREFECT, GX, SLACK),
    "traffic": (*OUTER, PREFECT, GX, SLACK),
    "reports": (*OUTER, PREFECT, GX, SLACK),
    "approvals": (*OUTER, PREFECT, GX, SLACK),
    "signatures": (*OUTER, PREFECT, GX, SLACK),
    "initiators": (*OUTER, PREFECT, GX, SLACK),
    "quality": (*OUTER, PREFECT, SLACK),
    "slack": (*OUTER, PREFECT, GX),
    "settings": (*OUTER, PREFECT, GX, SLACK),
    "errors": (*OUTER, PREFECT, GX, SLACK),
}

# Lazy adapters to Prefect that stay, each for a reason; a path through any other edge fails.
ALLOWED: dict[tuple[str, str], str] = {
    ("runbook.slack.client", PREFECT): "a bot token kept in a Prefect Secret block, read when configured",
    ("runbook.slack.console", PREFECT): "console lines also go to the run log when inside a flow run",
}


def _modules(graph: ImportGraph, ring: str) -> list[str]:
    name = f"runbook.{ring}"
    return sorted(m for m in graph.imports if m == name or m.startswith(name + "."))


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return ImportGraph.read(SRC)


def test_every_module_belongs_to_a_ring_or_an_edge(graph: ImportGraph) -> None:
    """Each subpackage and module of src/runbook is classified (a new ring cannot go unchecked)."""
    outer = {name.removeprefix("runbook.") for name in OUTER if name.startswith("runbook.")}
    top = {m.split(".")[1] for m in graph.imports if m.count(".") >= 1}
    assert top - set(RINGS) - outer == set()


@pytest.mark.parametrize("ring", sorted(RINGS))
def test_inner_ring_never_reaches_orchestration(graph: ImportGraph, ring: str) -> None:
    """No import path, lazy ones included, leads from an inner ring to Prefect, GX, Slack or the edges."""
    assert violations(graph, _modules(graph, ring), RINGS[ring], allowed=ALLOWED) == []


@pytest.mark.parametrize("ring", sorted(RINGS))
def test_importing_an_inner_ring_loads_no_orchestration(ring: str) -> None:
    """Importing every module of a ring in a fresh interpreter loads none of what it may not reach."""
    # Alembic's migration scripts run only under Alembic (they need its context).
    names = [m for m in _modules(ImportGraph.read(SRC), ring) if ".migrations" not in m]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {_top_level(RINGS[ring])!r}"
        f" or m.startswith({_runbook_prefixes(RINGS[ring])!r}))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def _top_level(forbidden: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in forbidden if not name.startswith("runbook."))


def _runbook_prefixes(forbidden: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name for name in forbidden if name.startswith("runbook."))


def test_the_library_never_imports_flows_or_tasks(graph: ImportGraph) -> None:
    """Nothing under src/runbook imports the flows or tasks packages; flows are named by entrypoint."""
    offenders = [f"{module} imports {name}" for module, names in graph.imports.items() for name in names
                 if name.split(".")[0] in ("flows", "tasks")]
    assert offenders == []


def test_the_checker_sees_a_lazy_import_two_modules_away(tmp_path: Path) -> None:
    """A ring that reaches Prefect through another module's function-level import is reported."""
    package = tmp_path / "pkg"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "__init__.py").write_text("from .a import f\n")
    (package / "inner" / "a.py").write_text("def f():\n    from pkg import helper\n    return helper\n")
    (package / "helper.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import great_expectations\n"
        "def g():\n    import prefect.flows\n"
    )
    graph = ImportGraph.read(package)
    found = violations(graph, ["pkg.inner", "pkg.inner.a"], ("prefect", "great_expectations"))
    assert found == [
        "pkg.inner -> pkg.inner.a -> pkg.helper -> prefect",
        "pkg.inner.a -> pkg.helper -> prefect",
    ]
    assert violations(graph, ["pkg.inner.a"], ("prefect",), allowed={("pkg.helper", "prefect")}) == []


def test_a_planted_violation_in_a_copy_of_the_library_fails(tmp_path: Path) -> None:
    """Planting a lazy ``runbook.orchestration`` import in a copy of domain/ breaks the domain ring."""
    copy = tmp_path / "runbook"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    clean = ImportGraph.read(copy)
    assert violations(clean, _modules(clean, "domain"), RINGS["domain"]) == []
    with (copy / "domain" / "modes.py").open("a", encoding="utf-8") as handle:
        handle.write("\n\ndef _planted():\n    from runbook.orchestration import phase\n    return phase\n")
    graph = ImportGraph.read(copy)
    found = violations(graph, _modules(graph, "domain"), RINGS["domain"], allowed=ALLOWED)
    assert "runbook.domain.modes -> runbook.orchestration" in found
    assert any(path.endswith("-> prefect") for path in found)


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
    offenders = []
    for folder in ("flows", "tasks"):
        graph = ImportGraph.read(ROOT / folder)
        for module, names in graph.imports.items():
            offenders += [f"{module} imports {name}" for name in names if name.split(".")[0] == "sqlalchemy"]
    assert offenders == []


def test_tasks_are_handed_their_settings_and_store() -> None:
    """A task gets settings, store and notifier from the PhaseContext its flow hands it; it never
    looks up process-wide ones (``load_settings``, ``open_store``, ``make_notifier``)."""
    import ast

    lookups = {"load_settings", "open_store", "make_notifier", "flow_context"}
    offenders = []
    for path in sorted((ROOT / "tasks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                offenders += [f"{path.name} imports {a.name}" for a in node.names if a.name in lookups]
            elif isinstance(node, ast.Name) and node.id in lookups:
                offenders.append(f"{path.name} calls {node.id}")
    assert offenders == []


def test_no_task_hands_its_flow_a_plain_dict() -> None:
    """Tasks return frozen value objects (or None, a bool, a string): no ``dict`` crosses the seam."""
    import ast

    offenders, tasks = [], 0
    for path in sorted((ROOT / "tasks").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            decorators = [ast.unparse(d) for d in getattr(node, "decorator_list", ())]
            if isinstance(node, ast.FunctionDef) and any("runbook_task" in d for d in decorators):
                tasks += 1
                returned = ast.unparse(node.returns) if node.returns is not None else "(unannotated)"
                if "dict" in returned.lower() or "Any" in returned or node.returns is None:
                    offenders.append(f"{path.name}: {node.name} -> {returned}")
    assert tasks >= 20
    assert offenders == []
