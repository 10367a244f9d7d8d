"""scripts/coverage_gate.py: per-group line and branch figures from a coverage.py JSON report, a final
JSON line with the four figures, and exit 1 under the floor (what `make test` and `make coverage` run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

GATE = Path(__file__).resolve().parents[2] / "scripts" / "coverage_gate.py"


def summary(lines: tuple[int, int], branches: tuple[int, int]) -> dict[str, dict[str, int]]:
    return {"summary": {"covered_lines": lines[0], "num_statements": lines[1],
                        "covered_branches": branches[0], "num_branches": branches[1]}}  # fmt: skip


def gate(tmp_path: Path, files: dict[str, object], *args: str) -> tuple[int, list[str]]:
    report = tmp_path / "coverage.json"
    report.write_text(json.dumps({"files": files}))
    done = subprocess.run([sys.executable, str(GATE), str(report), *args], capture_output=True, text=True)
    return done.returncode, (done.stdout + done.stderr).strip().splitlines()


FILES = {
    "src/runbook/engines/var.py": summary((99, 100), (50, 50)),
    "src/runbook/engines/hedging.py": summary((100, 100), (49, 50)),
    "src/runbook/engines/legacy.py": summary((0, 500), (0, 80)),  # legacy: not a candidate engine
    "src/runbook/validation/statistics.py": summary((300, 300), (40, 40)),
    "src/runbook/validation/catalog_backtest.py": summary((97, 100), (20, 20)),
    "src/runbook/monitoring/decide.py": summary((0, 100), (0, 10)),  # neither group
}


def test_figures_are_pooled_per_group_and_at_the_floor_exit_0(tmp_path):
    """Candidate engines 199/200 lines, 99/100 branches (legacy engines not counted); validation
    397/400 lines, 60/60 branches; 99.0 is at the floor."""
    code, lines = gate(tmp_path, FILES)
    figures = json.loads(lines[-1])
    assert figures == {"candidate_engines_lines": 99.5, "candidate_engines_branches": 99.0,
                       "validation_lines": 99.25, "validation_branches": 100.0, "floor": 99.0,
                       "passed": True}  # fmt: skip
    assert code == 0
    assert "candidate_engines  TOTAL                         99.50       99.00" in lines
    assert not any("legacy.py" in line or "decide.py" in line for line in lines)


def test_figures_under_the_floor_exit_1(tmp_path):
    code, lines = gate(tmp_path, FILES, "--floor", "99.3")
    figures = json.loads(lines[-1])
    assert (figures["passed"], figures["floor"]) == (False, 99.3)
    assert code == 1


def test_a_group_with_no_file_measured_is_an_error_naming_it(tmp_path):
    code, lines = gate(tmp_path, {"src/runbook/engines/var.py": summary((1, 1), (0, 0))})
    assert code == 1
    assert lines[-1] == "no file of group validation was measured; run pytest with --cov for it"
