"""Line and branch coverage per group from a coverage.py JSON report; exit 1 under the floor.

Usage: python scripts/coverage_gate.py COVERAGE_JSON [--floor 99]

Prints a table (one row per file, then per group) and, last, one JSON line with the four figures:
{"candidate_engines_lines": .., "candidate_engines_branches": .., "validation_lines": ..,
"validation_branches": ..}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

CANDIDATE_ENGINES = tuple(
    f"runbook/engines/{name}.py"
    for name in ("market_data", "performance", "correlation", "var", "hedging", "black_scholes")
)
GROUPS = {
    "candidate_engines": lambda path: path.endswith(CANDIDATE_ENGINES),
    "validation": lambda path: "runbook/validation/" in path,
}


def _percent(covered: int, total: int) -> float:
    return 100.0 if total == 0 else round(100.0 * covered / total, 2)


def figures(report: dict) -> tuple[list[tuple[str, str, float, float]], dict[str, float]]:
    """Rows (group, file, lines %, branches %) and the per-group totals."""
    rows, result = [], {}
    for group, member in GROUPS.items():
        lines = [0, 0]
        branches = [0, 0]
        for path, data in sorted(report["files"].items()):
            if not member(path.replace("\\", "/")):
                continue
            s = data["summary"]
            lines[0] += s["covered_lines"]
            lines[1] += s["num_statements"]
            branches[0] += s.get("covered_branches", 0)
            branches[1] += s.get("num_branches", 0)
            file_lines = _percent(s["covered_lines"], s["num_statements"])
            file_branches = _percent(s.get("covered_branches", 0), s.get("num_branches", 0))
            rows.append((group, Path(path).name, file_lines, file_branches))
        if lines[1] == 0:
            raise SystemExit(f"no file of group {group} was measured; run pytest with --cov for it")
        result[f"{group}_lines"] = _percent(*lines)
        result[f"{group}_branches"] = _percent(*branches)
    return rows, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--floor", type=float, default=99.0)
    args = parser.parse_args(argv)
    rows, result = figures(json.loads(args.report.read_text(encoding="utf-8")))
    print(f"{'group':<18} {'file':<26} {'lines %':>8} {'branches %':>11}")
    for group, name, lines, branches in rows:
        print(f"{group:<18} {name:<26} {lines:>8.2f} {branches:>11.2f}")
    for group in GROUPS:
        lines, branches = result[f"{group}_lines"], result[f"{group}_branches"]
        print(f"{group:<18} {'TOTAL':<26} {lines:>8.2f} {branches:>11.2f}")
    under = {name: value for name, value in result.items() if value < args.floor}
    print(json.dumps(result | {"floor": args.floor, "passed": not under}))
    return 1 if under else 0


if __name__ == "__main__":
    sys.exit(main())
