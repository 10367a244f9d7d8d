"""Control commands start without pydantic-settings and survive unrelated malformed settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runbook.cli import main
from runbook.control import ProductionSafetyManager, Store
from runbook.domain.modes import Mode


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("RUNBOOK_")}
    env.update(RUNBOOK_HOME=str(tmp_path / "home"), **extra)
    return env


def test_rollback_and_status_never_import_pydantic(tmp_path: Path) -> None:
    """runbook rollback and status read the store URL without importing pydantic or pydantic-settings."""
    code = (
        "import sys\nfrom runbook.cli import main\n"
        "assert main(['status', '--json']) == 0\n"
        "assert main(['rollback', 'var_engine', '--reason', 'x']) == 0\n"
        "print('LOADED', sorted(m for m in ('pydantic', 'pydantic_settings') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "LOADED []"
    assert (tmp_path / "home" / "runbook.db").exists()  # the default store under RUNBOOK_HOME


def test_rollback_works_despite_a_malformed_unrelated_setting(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A RUNBOOK_* variable that Settings would refuse does not stop an emergency rollback."""
    with Store.from_url(database_url) as store:
        manager = ProductionSafetyManager(store, actor="alice")
        manager.enable_shadow_mode("var_engine")
        monkeypatch.setenv("RUNBOOK_DATABASE_URL", database_url)
        monkeypatch.setenv("RUNBOOK_SLACK_CHANNELS", "not json")
        monkeypatch.setenv("RUNBOOK_MAX_STALENESS_S", "soon")
        assert main(["rollback", "var_engine", "--reason", "page"]) == 0
        assert "shadow -> rolled_back" in capsys.readouterr().out
        assert store.state("var_engine").mode is Mode.ROLLED_BACK
