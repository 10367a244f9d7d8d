"""The README's control-plane session and emergency rollback, run as written on a fresh store."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.cli import main

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = Path(sys.executable).with_name("runbook")


def session_commands() -> list[tuple[str, str]]:
    """(command, comment) of the README block that starts with ``$ runbook db upgrade``."""
    text = (ROOT / "README.md").read_text()
    block = text.split("```\n$ runbook db upgrade", 1)[1].split("```", 1)[0]
    block = "$ runbook db upgrade" + block
    commands = []
    for line in block.splitlines():
        if line.startswith("$ runbook "):
            command, _, comment = line[len("$ runbook "):].partition("#")
            commands.append((command.strip(), comment))
    return commands


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNBOOK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RUNBOOK_DATABASE_URL", raising=False)
    monkeypatch.delenv("RUNBOOK_CATALOG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def test_the_control_plane_session_prints_what_the_readme_shows(home, capsys):
    """db upgrade, shadow, canary 5, canary 250 (exit 2), promote (exit 2), status, audit --verify."""
    text = (ROOT / "README.md").read_text()
    outputs = {}
    for command, comment in session_commands():
        code = main(shlex.split(command))
        expected = 2 if "exit 2" in comment else 0
        out, err = capsys.readouterr()
        assert code == expected, f"{command}: {out}{err}"
        outputs[command] = out + err
        if expected == 2:
            [line] = err.strip().splitlines()
            assert line in text, line
    assert "upgraded from empty to revision 0004 (head)" in outputs["db upgrade"]
    assert "upgraded from empty to revision 0004 (head)" in text
    assert "var_engine: legacy -> shadow (epoch 1) by" in outputs['shadow var_engine --reason "phase 1"']
    assert "var_engine: shadow -> canary 5% (epoch 2) by" in outputs['canary var_engine 5 --reason "week 8"']
    verified = outputs["audit --verify"]
    assert verified.startswith("audit chain verified: 2 row(s), head ")
    assert "audit chain verified: 2 row(s)" in text


@pytest.mark.parametrize("url", ["bogus://x", "notaurl", "postgresql+nodriver://ops:secret@db/runbook"])
@pytest.mark.parametrize("command", [["rollback", "var_engine", "--reason", "drill"], ["status"]])
def test_a_database_url_that_cannot_be_opened_is_one_line_and_exit_2(tmp_path, url, command):
    env = {**os.environ, "RUNBOOK_HOME": str(tmp_path / "home"), "RUNBOOK_DATABASE_URL": url}
    done = subprocess.run([str(RUNBOOK), *command], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("runbook: error: database URL '")
    assert "RUNBOOK_DATABASE_URL" in line
    assert "secret" not in line
    assert not (tmp_path / "home").exists()


def test_the_emergency_rollback_script_refuses_a_bad_store_url_as_bad_input(tmp_path):
    env = {**os.environ, "RUNBOOK_HOME": str(tmp_path / "home"), "RUNBOOK_DATABASE_URL": "bogus://x",
           "PATH": f"{RUNBOOK.parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    env.pop("RUNBOOK_SLACK_BOT_TOKEN", None)
    done = subprocess.run([str(ROOT / "scripts" / "emergency_rollback.sh"), "var_engine"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "database URL 'bogus://x'" in done.stderr


def test_runbook_up_prints_the_prefect_api_url_line_the_readme_shows():
    from runbook._cli.flows import other_shells_line

    line = other_shells_line("http://127.0.0.1:4200/api")
    exported = line.split(": ", 1)[1].split(" (", 1)[0]
    assert exported == "export PREFECT_API_URL=http://127.0.0.1:4200/api"
    readme = (ROOT / "README.md").read_text()
    assert f"\n{exported}    # `runbook up` prints this line\n" in readme
    assert f"$ {exported}\n" in readme


@pytest.mark.parametrize("signers", ["", "missing-file"])
@pytest.mark.parametrize("command", [
    ["start", "readiness", "--component", "var_engine"],
    ["approve", "0094c585-275f-4a0d-b0bd-d1a7c92485f3", "--gate", "shadow-var-engine-run-0094c585-a1-s1"],
])  # fmt: skip
def test_sign_with_without_an_allowed_signers_file_is_bad_input(home, tmp_path, monkeypatch, capsys, signers,
                                                               command):  # fmt: skip
    """--sign-with needs RUNBOOK_ALLOWED_SIGNERS (README, Gates): exit 2 naming it, before signing."""
    monkeypatch.setenv("RUNBOOK_ALLOWED_SIGNERS", str(tmp_path / signers) if signers else "")
    code = main([*command, "--sign-with", str(tmp_path / "no-such-key")])
    [line] = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert line.startswith("runbook: error: --sign-with needs RUNBOOK_ALLOWED_SIGNERS")
    assert ("is unset" if not signers else "which is not a file") in line
    assert not home.exists()


def test_incident_names_the_rollback_that_moved_traffic_not_the_repeats(home, capsys):
    """README, `runbook incident`: "triggered by" lists rollbacks; a repeat on a rolled-back component
    (rollback_noop, in the timeline) triggered nothing."""
    commands = (["shadow", "var_engine", "--reason", "phase 1"],
                ["canary", "var_engine", "5", "--reason", "5%"],
                ["rollback", "var_engine", "--reason", "numbers off"],
                ["rollback", "var_engine", "--reason", "again, to be sure"])  # fmt: skip
    for command in commands:
        assert main(command) == 0
    capsys.readouterr()
    assert main(["incident", "var_engine", "--since", "1h"]) == 0
    out = capsys.readouterr().out
    timeline, triggered = out.split("triggered by:", 1)
    assert "rollback_noop" in timeline
    triggers = [line for line in triggered.split("\n\n", 1)[0].splitlines() if line.strip()]
    assert len(triggers) == 1, triggers
    assert "numbers off" in triggers[0]


def test_the_demo_prints_the_gates_command_with_its_prefect_server_and_store():
    """README, The demo: from another shell, PREFECT_API_URL=<its server> RUNBOOK_DATABASE_URL=<its store>."""
    from runbook._cli.demo_output import gates_command

    line = gates_command("sqlite:////tmp/demo dir/runbook.db", "http://127.0.0.1:8240/api")
    assert line == ("PREFECT_API_URL=http://127.0.0.1:8240/api "
                    "RUNBOOK_DATABASE_URL='sqlite:////tmp/demo dir/runbook.db' runbook gates")  # fmt: skip
    without = gates_command("sqlite:////d/runbook.db", None)
    assert without == "RUNBOOK_DATABASE_URL=sqlite:////d/runbook.db runbook gates"
    assert "`PREFECT_API_URL=<its server> RUNBOOK_DATABASE_URL=<its store> runbook\ngates`" in (
        ROOT / "README.md").read_text()


def test_the_readme_creates_every_work_pool_prefect_yaml_deploys_to():
    """`prefect deploy --all` needs its pools to exist; the README creates each one prefect.yaml names."""
    import yaml

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    pools = {d["work_pool"]["name"] for d in spec["deployments"]}
    assert pools == {"runbook", "runbook-validation"}
    readme = " ".join((ROOT / "README.md").read_text().split())
    for pool in pools:
        assert f"`prefect work-pool create {pool} --type process`" in readme, pool


def test_control_commands_read_only_the_store_settings(home, monkeypatch, capsys):
    """README, control plane: a bad setting the command does not read never blocks it; one it reads does."""
    monkeypatch.setenv("RUNBOOK_APPROVERS", "[1]")
    monkeypatch.setenv("RUNBOOK_UNVERIFIED_CHANNELS", "bogus")
    assert main(["db", "upgrade"]) == 0
    assert main(["rollback", "var_engine", "--reason", "drill"]) == 0
    assert main(["status", "--json"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("RUNBOOK_STORE_TIMEOUT_S", "soon")
    assert main(["status"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == "runbook: error: RUNBOOK_STORE_TIMEOUT_S='soon' is not a number of seconds > 0"
