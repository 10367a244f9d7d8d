"""Bad input on the control plane is refused before anything runs: exit 2, one line naming the limit."""

from __future__ import annotations

import pytest

from runbook.cli import main
from runbook.control import AuditLog, ProductionSafetyManager, Store
from runbook.domain.modes import Mode


@pytest.fixture
def store(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setenv("RUNBOOK_DATABASE_URL", database_url)
    with Store.from_url(database_url) as opened:
        ProductionSafetyManager(opened, actor="alice").enable_shadow_mode("var_engine")
        yield opened


def audit_rows(store: Store) -> int:
    return len(AuditLog(store).entries())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["canary", "var_engine", "5", "--actor", "a" * 129], "actor is 129 characters long; at most 128"),
        (
            ["canary", "var_engine", "5", "--reason", "r" * 2001],
            "reason is 2001 characters long; at most 2000",
        ),
        (["promote", "var_engine", "--actor", "b" * 500], "actor is 500 characters long; at most 128"),
        (["canary", "var_engine", "0.001"], "traffic percent '0.001' rounds to 0"),
        (["canary", "var_engine", "0.000000001%"], "rounds to 0"),
    ],
)
def test_over_long_or_vanishing_values_exit_2_and_write_nothing(
    store: Store, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each bad value is one stderr line naming the limit; state and audit log are unchanged."""
    before = (store.state("var_engine"), audit_rows(store))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]
    assert (store.state("var_engine"), audit_rows(store)) == before


def test_rollback_is_never_refused_for_long_values(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """Over-long actor and reason on rollback: done, recorded truncated, and the output says so."""
    assert main(["rollback", "var_engine", "--actor", "c" * 200, "--reason", "why " * 1000]) == 0
    out = capsys.readouterr().out
    assert "actor truncated from 200 to 128 characters" in out
    assert "reason truncated from 4000 to 2000 characters" in out
    state = store.state("var_engine")
    assert (state.mode, state.updated_by, len(state.reason)) == (Mode.ROLLED_BACK, "c" * 128, 2000)
    assert AuditLog(store).entries()[-1].actor == "c" * 128


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RUNBOOK_STORE_TIMEOUT_S", "soon"),
        ("RUNBOOK_STORE_TIMEOUT_S", "-1"),
        ("RUNBOOK_ROLLBACK_DEADLINE_S", "inf"),
    ],
)
def test_unparseable_store_settings_exit_2_before_anything_runs(
    store: Store,
    variable: str,
    value: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A store setting that does not parse stops the command with one line naming the variable."""
    monkeypatch.setenv(variable, value)
    before = audit_rows(store)
    assert main(["rollback", "var_engine", "--reason", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"runbook: error: {variable}={value!r} is not a number of seconds > 0"]
    assert audit_rows(store) == before


def test_unparseable_setting_of_a_full_settings_command_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Commands reading every setting refuse a malformed RUNBOOK_* value with one line naming it."""
    monkeypatch.setenv("RUNBOOK_MAX_STALENESS_S", "soon")
    assert main(["slack", "check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "RUNBOOK_MAX_STALENESS_S='soon' is not valid" in err[0]
