"""Block Kit payloads: what an approver sees, what the buttons carry, and Slack's size limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from runbook.domain.gates import Channel, Decision, GateDecisionRecord, GatePolicy, GateRequest
from runbook.slack import blocks

RUN_ID = "0f9d3a52-7c1e-4d7b-9a55-3f1f1e2d4c6b"


def _request(**changes: object) -> GateRequest:
    fields: dict[str, object] = {
        "gate_key": f"canary.var_engine.step-5.run-{RUN_ID[:8]}.a1.s1",
        "flow_run_id": RUN_ID,
        "component": "var_engine",
        "phase": "canary",
        "title": "Promote var_engine to 25%",
        "critical": True,
        "policy": GatePolicy(required_approvals=2, forbid_initiator=True),
        "initiator": "alice",
        "evidence": {"error_rate": 0.0004, "latency": {"p99_ratio": 1.0732}, "calls": 12_000},
        "created_at": datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
    }
    fields.update(changes)
    return GateRequest(**fields)  # type: ignore[arg-type]


def _all_text(layout: list[dict]) -> str:
    return json.dumps(layout)


def _actions(layout: list[dict]) -> list[dict]:
    return [element for block in layout if block["type"] == "actions" for element in block["elements"]]


def test_gate_request_buttons_carry_run_and_gate() -> None:
    """Approve and Reject both carry the flow run id and the gate key in their value."""
    request = _request()
    _, layout = blocks.gate_request_blocks(request, run_url="http://ui/runs/flow-run/x")
    buttons = {b["action_id"]: b for b in _actions(layout)}
    assert set(buttons) == {blocks.ACTION_APPROVE, blocks.ACTION_REJECT}
    for button in buttons.values():
        assert blocks.parse_button_value(button["value"]) == (request.flow_run_id, request.gate_key)


def test_approve_and_reject_both_ask_for_confirmation() -> None:
    """Approve and Reject open a confirm dialog; Reject's says it rolls back."""
    _, layout = blocks.gate_request_blocks(_request(), run_url="http://ui")
    buttons = {b["action_id"]: b for b in _actions(layout)}
    assert "confirm" in buttons[blocks.ACTION_APPROVE]
    assert "rolls it back" in buttons[blocks.ACTION_REJECT]["confirm"]["text"]["text"]


def test_gate_request_shows_evidence_and_run_link() -> None:
    """The evidence numbers (nested keys flattened) and the Prefect run link are in the message."""
    _, layout = blocks.gate_request_blocks(_request(), run_url="http://127.0.0.1:4200/runs/flow-run/abc")
    text = _all_text(layout)
    assert "latency.p99_ratio" in text
    assert "1.0732" in text
    assert "0.0004" in text
    assert "http://127.0.0.1:4200/runs/flow-run/abc" in text


def test_gate_request_without_a_ui_has_buttons_but_no_link() -> None:
    """No Prefect UI known: the message keeps its buttons and drops the link instead of a dead one."""
    _, layout = blocks.gate_request_blocks(_request(), run_url="")
    assert "Open the run in Prefect" not in _all_text(layout)
    assert any(block["type"] == "actions" for block in layout)


def test_decided_message_has_no_buttons_and_names_who_and_when() -> None:
    """Once decided, the buttons are gone and the approver and UTC time are shown."""
    record = GateDecisionRecord(
        flow_run_id=RUN_ID, gate_key=_request().gate_key, decision=Decision.APPROVE, approver="U0BOB",
        channel=Channel.SLACK, at=datetime(2024, 5, 6, 9, 30, 0, tzinfo=UTC),
    )
    text, layout = blocks.gate_decided_blocks(_request(), [record])
    assert _actions(layout) == []
    assert "<@U0BOB>" in _all_text(layout)
    assert "2024-05-06 09:30:00 UTC" in _all_text(layout)
    assert "Approved" in text


def test_rejection_line_reads_rejected() -> None:
    """A rejection is shown as Rejected, by whom."""
    record = GateDecisionRecord(
        flow_run_id=RUN_ID, gate_key="k", decision=Decision.REJECT, approver="carol", channel=Channel.CLI,
        at=datetime(2024, 5, 6, 9, 30, tzinfo=UTC),
    )
    assert "Rejected* by carol via cli" in blocks.decision_line(record)


def test_evidence_respects_slack_field_limits() -> None:
    """At most 10 fields per section; beyond 20 numbers a note points to the artifacts."""
    evidence = {f"metric_{i:02d}": float(i) for i in range(35)}
    _, layout = blocks.gate_request_blocks(_request(evidence=evidence), run_url="http://ui")
    sections = [b for b in layout if b["type"] == "section" and "fields" in b]
    assert all(len(s["fields"]) <= 10 for s in sections)
    assert sum(len(s["fields"]) for s in sections) == 20
    assert "and 15 more" in _all_text(layout)


def test_long_title_is_cut_to_header_limit() -> None:
    """A header never exceeds Slack's 150 characters."""
    _, layout = blocks.gate_request_blocks(_request(title="x" * 400), run_url="http://ui")
    header = next(b for b in layout if b["type"] == "header")
    assert len(header["text"]["text"]) <= 150


@pytest.mark.parametrize(
    "value",
    [None, 42, "not json", "[1, 2]", '{"flow_run_id": "r"}', '{"flow_run_id": "", "gate_key": "k"}',
     '{"flow_run_id": 1, "gate_key": "k"}'],
)
def test_parse_button_value_refuses_what_it_cannot_read(value: object) -> None:
    """A button value that is not a JSON object with both ids raises ValueError."""
    with pytest.raises(ValueError):
        blocks.parse_button_value(value)


def test_rollback_alert_says_automatic_or_emergency() -> None:
    """The alert names its kind, the component and the reason, with the evidence."""
    text, layout = blocks.rollback_alert_blocks(
        "hedge_calculator", reason="effectiveness 0.91 < 0.95 x baseline", evidence={"he": 0.91},
        automatic=True,
    )
    assert "Automatic rollback" in text
    assert "hedge_calculator" in text
    assert "0.91" in _all_text(layout)
    emergency, _ = blocks.rollback_alert_blocks("var_engine", reason="pager", evidence={}, automatic=False)
    assert "Emergency rollback" in emergency


def test_validation_and_nightly_results_count_failures() -> None:
    """A failed validation reads FAILED; the nightly line counts passed components."""
    text, _ = blocks.validation_result_blocks("var_engine", passed=False, summary={"max_rel_error": 2e-4})
    assert "FAILED" in text
    nightly, layout = blocks.nightly_result_blocks(
        [{"component": "var_engine", "passed": True, "scenarios": 10000},
         {"component": "hedge_calculator", "passed": False, "scenarios": 10000}]
    )
    assert "1/2" in nightly
    assert "hedge_calculator" in _all_text(layout)


def test_format_value_shows_six_significant_digits_and_na() -> None:
    """Floats print with 6 significant digits; NaN and None print as n/a."""
    assert blocks.format_value(0.123456789) == "0.123457"
    assert blocks.format_value(float("nan")) == "n/a"
    assert blocks.format_value(None) == "n/a"
    assert blocks.format_value(True) == "yes"


def test_a_human_rejection_is_announced_as_one() -> None:
    """A rollback after a person rejected a gate is not called an automatic rollback."""
    text, layout = blocks.rollback_alert_blocks(
        "var_engine", reason="critical gate canary-5: rejected by bob", evidence={}, automatic=False,
        kind="Rollback after a human rejection",
    )
    assert text.startswith(":rotating_light: Rollback after a human rejection: var_engine")
    assert "Automatic" not in text + str(layout)
