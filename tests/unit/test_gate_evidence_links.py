"""The evidence an approver reads: report and Data Docs links are http URLs of the report server (never
file:// or a bare server path), and the monitor verdict reads one trigger per line, in the Prefect
pause form's description and in the Slack message alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from runbook.domain.gates import GatePolicy, GateRequest
from runbook.reports.markdown import gate_description, outcome_markdown
from runbook.slack import blocks

REPORT = "http://127.0.0.1:4280/reports/var_engine/20261203T080000-shadow/report.html"
DOCS = "http://127.0.0.1:4280/data_docs/validations/shadow_comparisons/20261203T080102-shadow.html"
MONITOR = (
    "CONTINUE",
    "error rate: 0 calculation errors in 9,000 candidate calls; upper bound 0.051% < 0.1%",
    "mismatch rate: 0 mismatches in 9,000 comparisons; upper bound 0.051% < 0.1%",
    "latency: candidate p50 41 us = 1.02x legacy p50 40 us; limit 1.20x",
)


def _request(*, critical: bool = False) -> GateRequest:
    return GateRequest(
        gate_key="shadow-var-engine-shadow-run-0f9d3a52-a1-s1", flow_run_id="0f9d3a52-7c1e-4d7b",
        component="var_engine", phase="shadow", title="var_engine: shadow -> canary?", critical=critical,
        policy=GatePolicy(required_approvals=2 if critical else 1, verified_only=critical),
        initiator="carol",
        evidence={"validation": "passed", "report": REPORT, "monitor": MONITOR,
                  "data_docs": {"shadow_comparisons": DOCS}},
        created_at=datetime(2026, 12, 3, 8, 0, tzinfo=UTC),
    )


def test_pause_form_links_reports_over_http_and_lists_the_verdict_line_by_line() -> None:
    """The resume form's markdown links the report and the Data Docs page by http URL and puts each
    monitor trigger on its own line (a bullet), none of them inside the evidence table."""
    text = gate_description(_request(), "http://127.0.0.1:4200/runs/flow-run/x")
    assert f"[report.html]({REPORT})" in text
    assert f"[shadow_comparisons]({DOCS})" in text
    assert "file://" not in text
    for line in MONITOR:
        assert f"\n- {line}" in text
    table = [row for row in text.splitlines() if row.startswith("|")]
    assert not [row for row in table if "error rate" in row]


def test_pause_form_of_a_critical_gate_names_the_signed_command() -> None:
    """On a gate that needs a verified identity the form offers ``--sign-with``, not ``--as``."""
    text = gate_description(_request(critical=True), "")
    assert "--sign-with ~/.ssh/id_ed25519" in text
    assert "--as <you>" not in text


def test_slack_message_links_reports_over_http_and_lists_the_verdict_line_by_line() -> None:
    """The Slack gate message shows the report and Data Docs as Slack links to the http URLs and
    the monitor verdict one trigger per line."""
    _, layout = blocks.gate_request_blocks(_request(), run_url="")
    fields = [f["text"] for block in layout for f in block.get("fields", [])]
    assert f"*report*\n<{REPORT}|report.html>" in fields
    assert any(f"<{DOCS}|" in field for field in fields)
    assert "*monitor*\n" + "\n".join(MONITOR) in fields
    assert "file://" not in json.dumps(layout)


def test_runbook_log_never_links_a_file_path() -> None:
    """A report only known by its server path is shown as text in the runbook log, not as a
    ``file://`` link a browser refuses; a URL is a link."""
    links = {"report": "/srv/runbook/reports/x/report.html", "flow run": REPORT}
    text = outcome_markdown(component="var_engine", phase="shadow", status="completed", check="", reason="",
                            steps=[], links=links)
    assert "file://" not in text
    assert "report: `/srv/runbook/reports/x/report.html`" in text
    assert f"[flow run]({REPORT})" in text
