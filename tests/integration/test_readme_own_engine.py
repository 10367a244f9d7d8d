"""The README's "Migrate your own engine" commands, run as written on a copy of the example."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def readme_commands() -> list[str]:
    """The ``$ `` lines of the README block that starts with ``cd examples/own_engine``."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Migrate your own engine", 1)[1]
    blocks = re.findall(r"```[a-z]*\n(.*?)```", section, flags=re.S)
    [block] = [b for b in blocks if "$ cd examples/own_engine" in b]
    return [line[2:] for line in block.splitlines() if line.startswith("$ ")]


def test_the_readme_example_runs_as_written(tmp_path):
    """cd, validate (PASS on the CSV), validate a defective candidate (exit 1), shadow, status."""
    shutil.copytree(ROOT / "examples" / "own_engine", tmp_path / "examples" / "own_engine")
    path = f"{BIN}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "PATH": path, "RUNBOOK_HOME": str(tmp_path / "home")}
    env.pop("RUNBOOK_DATABASE_URL", None)
    env.pop("RUNBOOK_CATALOG", None)
    cwd, outputs = tmp_path, []
    commands = readme_commands()
    assert commands[0] == "cd examples/own_engine"
    for line in commands:
        command, _, comment = line.partition("#")
        if command.startswith("cd "):
            cwd = cwd / shlex.split(command)[1]
            continue
        expected = 1 if "exit 1" in comment else 0
        done = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=900)  # fmt: skip
        assert done.returncode == expected, f"{command}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    assert "desk_var: PASS" in outputs[0]
    assert "data: prices.csv (1760 rows, 2012-01-03 to 2018-12-31" in outputs[0]
    report = json.loads((cwd / "out" / "report.json").read_text())
    assert {"tolerance:var", "tolerance:es"} <= set(report["failed_checks"])
    assert report["data"]["path"] == "prices.csv"
    assert report["engines"]["candidate"]["path"] == "desk_risk:var_v2_linear_horizon"
    assert "desk_var: legacy -> shadow" in outputs[2]
    assert "desk_var" in outputs[3]
