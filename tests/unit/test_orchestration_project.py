"""Where the flows come from: the checkout's flows/ and tasks/ folders, or the copy the package
installs under runbook._project (never top-level ``flows`` / ``tasks`` distributions packages)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"


def _run(code: str, cwd: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run([sys.executable, *flags, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)


def test_the_distribution_installs_no_top_level_flows_or_tasks() -> None:
    """setup.py maps flows/ and tasks/ into runbook._project; no top-level package is named flows or tasks."""
    from distutils.core import run_setup

    cwd = Path.cwd()
    try:
        os.chdir(ROOT)
        dist = run_setup("setup.py", stop_after="config")
    finally:
        os.chdir(cwd)
    top_level = {name.split(".")[0] for name in dist.packages}
    assert top_level == {"runbook"}
    assert dist.package_dir["runbook._project.flows"] == "flows"
    assert dist.package_dir["runbook._project.tasks"] == "tasks"


def test_a_flow_is_loaded_by_entrypoint_from_the_working_directory(tmp_path: Path) -> None:
    """``load_flow('flows/x.py:x')`` imports the working directory's flows/, which may import tasks/,
    and children of the process (a served run) find them on PYTHONPATH too."""
    (tmp_path / "flows").mkdir()
    (tmp_path / "tasks").mkdir()
    (tmp_path / "flows" / "__init__.py").write_text("")
    (tmp_path / "tasks" / "__init__.py").write_text("")
    (tmp_path / "tasks" / "greet.py").write_text("def greet():\n    return 'hello from tasks'\n")
    (tmp_path / "flows" / "hello.py").write_text("from tasks.greet import greet\n\ndef hello():\n"
                                                 "    return greet()\n")
    code = ("import os\nfrom runbook.orchestration.deployments import load_flow\n"
            "print(load_flow('flows/hello.py:hello')())\n"
            "print(os.environ['PYTHONPATH'].split(os.pathsep)[0])\n")
    result = _run(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["hello from tasks", str(tmp_path)]


def test_no_flows_anywhere_is_one_clear_error(tmp_path: Path) -> None:
    """Outside a checkout and without the installed copy, loading a flow names what is missing."""
    code = ("from runbook.errors import BadParameter\n"
            "from runbook.orchestration.deployments import load_flow\n"
            "try:\n    load_flow('flows/shadow.py:shadow')\nexcept BadParameter as exc:\n    print(exc)\n")
    # -S: no site-packages, so no installed copy of the project can answer for the missing folders.
    result = _run(code, tmp_path, "-S")
    assert result.returncode == 0, result.stderr
    expected = f"no flows/ and tasks/ folders in {tmp_path} and none installed with runbook"
    assert result.stdout.strip() == expected
