"""A firm's own catalog component through the phase flows on the Prefect server: readiness records
its baseline, shadow validates it from its requests file, replays its requests, and asks the gate."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.nightly_validation import nightly_validation
from flows.readiness import readiness
from flows.shadow import shadow
from runbook.control.audit import AuditLog
from runbook.control.baselines import BaselineStore
from runbook.domain.catalog import use_catalog
from runbook.orchestration.approvers import BackgroundApprover, approve_as_demo
from runbook.orchestration.context import close_stores, open_store
from runbook.orchestration.params import ValidationOptions
from runbook.orchestration.testing import fast_options

ENGINES = '''
def old_quote(notional, rate, days):
    interest = 0.0
    for _ in range(int(days)):
        interest += notional * rate / 365.0
    return {"interest": interest, "total": notional + interest}


def new_quote(notional, rate, days):
    interest = notional * rate * days / 365.0
    return {"interest": interest, "total": notional + interest}


def off_by_a_day(notional, rate, days):
    return new_quote(notional, rate, days + 1)
'''


@pytest.fixture
def firm(prefect_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A catalog with the component ``loan_quote`` (its engines and requests beside it), a fresh store."""
    (tmp_path / "loan_engines.py").write_text(textwrap.dedent(ENGINES))
    rows = [{"notional": 1e6 + 1000 * i, "rate": 0.01 + (i % 7) / 1000, "days": 1 + i % 90,
             "routing_key": f"desk-{i % 9}"} for i in range(300)]  # fmt: skip
    (tmp_path / "quotes.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (tmp_path / "runbook.toml").write_text(textwrap.dedent('''
        [components.loan_quote]
        tier = "standard"
        kind = "generic"
        legacy = "loan_engines:old_quote"
        candidate = "loan_engines:new_quote"
        check = "interest >= 0 and total >= interest"
        requests = "quotes.jsonl"
        fields = { interest = { rel = 1e-9, abs = 1e-6 }, total = { rel = 1e-9, abs = 1e-6 } }
        thresholds = { min_latency_excess_us = 1e6 }
        '''))
    monkeypatch.setenv("RUNBOOK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RUNBOOK_CATALOG", str(tmp_path / "runbook.toml"))
    for name in ("RUNBOOK_DATABASE_URL", "RUNBOOK_SLACK_BOT_TOKEN", "RUNBOOK_SLACK_BOT_TOKEN_BLOCK",
                 "RUNBOOK_APPROVERS"):
        monkeypatch.delenv(name, raising=False)
    with use_catalog(tmp_path / "runbook.toml"):
        yield tmp_path
    close_stores()


def test_readiness_then_shadow_take_a_catalog_component_to_the_canary_gate(firm):
    """readiness records loan_quote's baseline; shadow validates it, replays its requests, passes the gate."""
    store = open_store()
    ready = readiness(component="loan_quote", initiator="carol", baseline_calls=50)
    assert ready["components"]["loan_quote"]["engines"]["candidate"] == "loan_engines:new_quote"
    assert BaselineStore(store).get("loan_quote") is not None
    with BackgroundApprover(store, approve_as_demo()):
        outcome = shadow(component="loan_quote", initiator="carol", **fast_options(validation=False))
    assert outcome["status"] == "completed"
    assert store.state("loan_quote").mode.value == "shadow"
    report = json.loads(Path(outcome["report"]).with_suffix(".json").read_text())
    assert report["passed"] is True
    assert report["summary"]["requests"] == 300
    assert report["engines"]["legacy"]["path"] == "loan_engines:old_quote"
    actions = [entry.action for entry in AuditLog(store).entries(component="loan_quote")]
    assert "enable_shadow_mode" in actions
    assert "gate_approve" in actions


def test_nightly_validation_fails_a_catalog_component_whose_candidate_drifted(firm):
    """A catalog component in shadow whose candidate is off by a day fails the nightly validation."""
    store = open_store()
    catalog = (firm / "runbook.toml").read_text().replace(":new_quote", ":off_by_a_day")
    (firm / "runbook.toml").write_text(catalog)
    with use_catalog(firm / "runbook.toml"):
        from runbook.control.safety import ProductionSafetyManager

        ProductionSafetyManager(store, actor="test").enable_shadow_mode("loan_quote", reason="test")
        state = nightly_validation(validation=ValidationOptions(historical=300), return_state=True)
    assert state.is_failed()
    assert "loan_quote" in (state.message or "")
