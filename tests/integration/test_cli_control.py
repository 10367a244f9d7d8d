"""The control-plane CLI and scripts/emergency_rollback.sh, against SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from runbook.cli import main
from runbook.control import AuditLog, ProductionSafetyManager, Store
from runbook.control.store import HEAD_REVISION
from runbook.domain.modes import Mode

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "emergency_rollback.sh"
HEAVY = ("pandas", "prefect", "great_expectations", "slack_sdk")


@pytest.fixture
def store(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A store the CLI in this process uses through RUNBOOK_DATABASE_URL."""
    monkeypatch.setenv("RUNBOOK_DATABASE_URL", database_url)
    store = Store.from_url(database_url)
    yield store
    store.dispose()


def snapshot(store: Store) -> tuple[object, object]:
    """Everything a command could have written: the states and the audit rows."""
    return store.states(), AuditLog(store).entries()


def test_status_json_lists_every_component(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """status --json prints exactly the documented keys for the five components."""
    ProductionSafetyManager(store, actor="alice").enable_shadow_mode("var_engine", reason="phase 1")
    assert main(["status", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert list(payload) == ["components"]
    rows = {row["component"]: row for row in payload["components"]}
    assert len(rows) == 5
    keys = ["component", "mode", "traffic_percent", "epoch", "updated_at", "updated_by", "reason"]
    assert all(list(row) == keys for row in rows.values())
    assert (rows["var_engine"]["mode"], rows["var_engine"]["epoch"], rows["var_engine"]["updated_by"]) == (
        "shadow",
        1,
        "alice",
    )
    assert rows["hedge_calculator"]["updated_at"] is None


def test_status_table(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """status prints a table with one line per component."""
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in store.states())


def test_migration_commands_walk_the_runbook(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """shadow, canary, promote, rollback each change the state and say what changed."""
    assert main(["shadow", "var_engine", "--reason", "phase 1", "--actor", "alice"]) == 0
    assert main(["canary", "var_engine", "5", "--actor", "alice"]) == 0
    assert main(["canary", "var_engine", "25%", "--actor", "alice"]) == 0
    assert main(["promote", "var_engine", "--actor", "bob"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "var_engine: shadow -> canary 5% (epoch 2) by alice"
    assert out[3] == "var_engine: canary 25% -> full (epoch 4) by bob"
    assert main(["rollback", "var_engine", "--reason", "latency", "--actor", "pager"]) == 0
    assert "full -> rolled_back (epoch 5)" in capsys.readouterr().out
    state = store.state("var_engine")
    assert (state.mode, state.updated_by, state.reason) == (Mode.ROLLED_BACK, "pager", "latency")


def test_rollback_all_components(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """rollback all_components rolls back every live component and lists the others."""
    manager = ProductionSafetyManager(store, actor="alice")
    manager.enable_shadow_mode("var_engine")
    manager.enable_shadow_mode("hedge_calculator")
    assert main(["rollback", "all_components", "--reason", "incident"]) == 0
    out = capsys.readouterr().out
    assert "rolled back 2 component(s)" in out
    assert {s.mode for n, s in store.states().items() if n in ("var_engine", "hedge_calculator")} == {
        Mode.ROLLED_BACK
    }


@pytest.mark.parametrize(
    "argv",
    [
        ["canary", "var_engine", "150"],
        ["canary", "var_engine", "0"],
        ["canary", "var_engine", "100"],
        ["canary", "var_engine", "abc"],
        ["canary", "risk_engine", "5"],
        ["shadow", "risk_engine"],
        ["promote", "var_engine"],
        ["shadow", "var_engine"],
        ["rollback", "risk_engine", "--reason", "x"],
        ["rollback", "hedge_calculator", "--reason", "x"],
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    store: Store, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Unknown component, percent out of range, refused move, retired rollback: exit 2, one line, no write."""
    manager = ProductionSafetyManager(store, actor="alice")
    manager.enable_shadow_mode("var_engine")
    manager.enable_shadow_mode("hedge_calculator")
    manager.enable_canary_deployment("hedge_calculator", 10)
    manager.promote("hedge_calculator")
    manager.retire("hedge_calculator")
    before = snapshot(store)
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("runbook: error: ")
    assert snapshot(store) == before


def test_rollback_requires_a_reason(store: Store) -> None:
    """rollback without --reason is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as caught:
        main(["rollback", "var_engine"])
    assert caught.value.code == 2
    assert AuditLog(store).entries() == []


def test_audit_verify_and_tamper(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """audit --verify passes on an intact log and exits 1 naming the edited row otherwise."""
    main(["shadow", "var_engine"])
    main(["canary", "var_engine", "5"])
    capsys.readouterr()
    assert main(["audit", "--verify"]) == 0
    assert "2 row(s)" in capsys.readouterr().out
    first = AuditLog(store).entries()[0].id
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = :id"), {"id": first})
    assert main(["audit", "--verify"]) == 1
    assert f"row {first}" in capsys.readouterr().err


def test_audit_json_and_table(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """audit --json lists rows oldest first with their hashes; --component filters."""
    main(["shadow", "var_engine", "--reason", "phase 1"])
    main(["shadow", "hedge_calculator"])
    capsys.readouterr()
    assert main(["audit", "--json", "--component", "var_engine"]) == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    assert [(e["component"], e["action"], e["reason"]) for e in entries] == [
        ("var_engine", "enable_shadow_mode", "phase 1")
    ]
    assert len(entries[0]["row_hash"]) == 64
    assert main(["audit"]) == 0
    assert "enable_shadow_mode" in capsys.readouterr().out


def test_db_upgrade(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """db upgrade creates the schema on an empty database and reports head afterwards."""
    monkeypatch.setenv("RUNBOOK_DATABASE_URL", database_url)
    assert main(["db", "upgrade"]) == 0
    assert f"upgraded from empty to revision {HEAD_REVISION}" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert f"already at revision {HEAD_REVISION}" in capsys.readouterr().out


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNBOOK_", "PREFECT_"))}
    env.update(
        RUNBOOK_HOME=str(tmp_path / "home"),
        RUNBOOK_DATABASE_URL=f"sqlite:///{tmp_path / 'rb.db'}",
        # No Prefect server anywhere: the rollback path must not need one.
        RUNBOOK_PREFECT_API_URL="http://127.0.0.1:9/api",
        PREFECT_API_URL="http://127.0.0.1:9/api",
    )
    env.update(extra)
    return env


def test_status_and_rollback_do_not_import_heavy_libraries(tmp_path: Path) -> None:
    """runbook status and rollback (with every command registered) never load pandas/Prefect/GX/Slack."""
    code = (
        "import sys\nfrom runbook.cli import main\n"
        "assert main(['status', '--json']) == 0\n"
        "assert main(['rollback', 'all_components', '--reason', 'x']) == 0\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "HEAVY []"


def _script(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def _sqlite_store(tmp_path: Path) -> Store:
    return Store.from_url(f"sqlite:///{tmp_path / 'rb.db'}")


def test_emergency_rollback_script_rolls_back_without_prefect(tmp_path: Path) -> None:
    """The script rolls back a canary with no Prefect server, prints the time taken and exits 0."""
    with _sqlite_store(tmp_path) as store:
        manager = ProductionSafetyManager(store, actor="alice")
        manager.enable_shadow_mode("var_engine")
        manager.enable_canary_deployment("var_engine", 5)
        done = _script(tmp_path, "var_engine")
        assert done.returncode == 0, done.stderr
        assert "canary 5% -> rolled_back" in done.stdout
        assert "verified: var_engine=rolled_back@epoch3" in done.stdout
        assert re.search(r"emergency rollback done in \d+ ms", done.stdout)
        state = store.state("var_engine")
        assert (state.mode, state.reason) == (
            Mode.ROLLED_BACK,
            "emergency rollback (scripts/emergency_rollback.sh)",
        )


def test_emergency_rollback_script_all_components_with_slack_down(tmp_path: Path) -> None:
    """all_components rolls back every live component; a configured but unreachable Slack does not block."""
    with _sqlite_store(tmp_path) as store:
        manager = ProductionSafetyManager(store, actor="alice")
        manager.enable_shadow_mode("var_engine")
        manager.enable_shadow_mode("hedge_calculator")
        done = _script(
            tmp_path,
            "all_components",
            "--reason",
            "paging",
            RUNBOOK_SLACK_BOT_TOKEN="xoxb-test",
            RUNBOOK_SLACK_API_URL="http://127.0.0.1:9/api/",
        )
        assert done.returncode == 0, done.stderr
        assert "slack alert: sending in the background" in done.stdout
        assert [s.mode for s in store.states().values()].count(Mode.ROLLED_BACK) == 2
        assert AuditLog(store).entries()[-1].reason == "paging"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "missing the component"),
        (("risk_engine",), "unknown component 'risk_engine'"),
        (("var_engine", "--frobnicate"), "unexpected argument '--frobnicate'"),
        (("market_data_provider",), "market_data_provider is retired"),
    ],
)
def test_emergency_rollback_script_bad_input_exits_2(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    """Bad input (or a retired component) gives a clear message, exit 2 and no new audit row."""
    with _sqlite_store(tmp_path) as store:
        manager = ProductionSafetyManager(store, actor="alice")
        for move in ("enable_shadow_mode", "enable_canary_deployment", "promote", "retire"):
            extra = (10,) if move == "enable_canary_deployment" else ()
            getattr(manager, move)("market_data_provider", *extra)
        before = snapshot(store)
        done = _script(tmp_path, *args)
        assert done.returncode == 2
        assert message in done.stderr
        assert snapshot(store) == before


def test_emergency_rollback_script_fails_when_nothing_is_recorded(tmp_path: Path) -> None:
    """An unusable store means nothing was recorded: the script says so and exits 1."""
    done = _script(tmp_path, "var_engine", RUNBOOK_DATABASE_URL="sqlite:////proc/runbook-none/rb.db")
    assert done.returncode == 1
    assert "not recorded" in done.stderr
