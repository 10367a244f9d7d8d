"""End to end under the Prefect test harness: a gated flow asks in (fake) Slack, a signed click decides.

The flow is a small one defined here: it opens its gate with ``runbook.orchestration.gates.run_gate``
(Slack notifier, ``pause_flow_run`` with the gate key) and moves the component on when approved.
Clicks go through the real ASGI app, ``submit_decision`` and Prefect's resume.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC

import pytest
from prefect import flow
from prefect.context import FlowRunContext

from runbook.approvals import submit_decision
from runbook.control.audit import AuditLog
from runbook.control.gates import GateStore
from runbook.control.safety import ProductionSafetyManager
from runbook.control.store import Store
from runbook.domain.components import Component
from runbook.domain.gates import Channel, Decision, GatePolicy
from runbook.domain.modes import Mode
from runbook.orchestration.gates import GateSpec, run_gate
from runbook.orchestration.pending import pending_gates
from runbook.orchestration.resume import PrefectResumer, slack_app
from runbook.settings import Settings
from runbook.slack.blocks import ACTION_APPROVE, parse_button_value
from runbook.slack.notifier import make_notifier
from runbook.slack.testing import (
    FAKE_TOKEN,
    AsgiClient,
    FakeSlackServer,
    RecordedCall,
    build_interaction_request,
    gate_click_payload,
)

pytestmark = pytest.mark.usefixtures("prefect_server")

SECRET = "e2e-signing-secret"
APPROVERS = frozenset({"U0ALICE", "U0BOB", "U0CAROL", "U0CLEANUP"})
INITIATOR = "U0CAROL"
WAIT_S = 90.0


@flow(name="slack-gated-test-flow", persist_result=False)
def gated_flow(
    database_url: str, slack_api_url: str, component: str, critical: bool, timeout_s: float = WAIT_S
) -> str:
    """Gate, then move ``component`` from shadow to a 5% canary when approved."""
    settings = Settings(database_url=database_url, slack_bot_token=FAKE_TOKEN, slack_api_url=slack_api_url,
                        slack_default_channel="C0GATES")
    store = Store.from_url(database_url, upgrade=False)
    try:
        run_id = str(FlowRunContext.get().flow_run.id)  # type: ignore[union-attr]
        spec = GateSpec(
            phase="canary", component=Component(component), step="step-5", title=f"{component} to 5%",
            evidence={"shadow_mismatch_rate": 0.0, "calls": 20_000},
            policy=GatePolicy(required_approvals=2 if critical else 1, allowed_approvers=APPROVERS,
                              forbid_initiator=critical),
            initiator=INITIATOR, timeout_s=timeout_s, poll_interval_s=1,
            run_url=f"{settings.prefect_ui_url}/runs/flow-run/{run_id}",
        )
        notifier = make_notifier(settings, gate_store=GateStore(store))
        answer = run_gate(store, notifier, spec, flow_run_id=run_id)
        if answer.decision is Decision.APPROVE:
            ProductionSafetyManager(store, actor=",".join(answer.approvers)).enable_canary_deployment(
                component, 5, reason="gate approved")
        return answer.decision.value
    finally:
        store.dispose()


@dataclass
class GatedRun:
    """A gated flow running in a thread, the fake Slack it posts to, and the endpoint for clicks."""

    store: Store
    fake: FakeSlackServer
    client: AsgiClient
    thread: threading.Thread | None = None
    result: list[object] = field(default_factory=list)
    seen_gates: int = 0

    def start(self, component: str, *, critical: bool, database_url: str, timeout_s: float = WAIT_S) -> None:
        def run() -> None:
            try:
                self.result.append(gated_flow(database_url, self.fake.base_url, component, critical,
                                              timeout_s=timeout_s))
            except BaseException as exc:  # noqa: BLE001 - the test thread asserts on it
                self.result.append(exc)

        self.thread = threading.Thread(target=run, name="gated-flow", daemon=True)
        self.thread.start()

    def next_gate(self) -> tuple[str, str, str, str]:
        """(flow_run_id, gate_key, channel, ts) of the next gate message, once the run pauses on it."""
        self.seen_gates += 1
        deadline = time.monotonic() + WAIT_S
        while True:
            posts = [c for c in self.fake.calls_for("chat.postMessage") if _is_gate_request(c)]
            if len(posts) >= self.seen_gates:
                break
            assert time.monotonic() < deadline, "the flow posted no gate request"
            time.sleep(0.1)
        post = posts[self.seen_gates - 1]
        run_id, key = parse_button_value(_approve_button(post)["value"])
        _wait_paused(run_id, key)
        return run_id, key, post.response["channel"], post.response["ts"]

    def click(self, user: str, gate: tuple[str, str, str, str], *, approve: bool = True, n: int = 0) -> int:
        run_id, key, channel, ts = gate
        payload = gate_click_payload(user_id=user, flow_run_id=run_id, gate_key=key, approve=approve,
                                     channel_id=channel, message_ts=ts, action_ts=f"{time.time():.6f}{n}")
        return self.client.post_signed(build_interaction_request(SECRET, payload)).status_code

    def outcome(self) -> object:
        assert self.thread is not None
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive(), "the flow did not finish"
        return self.result[0]

    def ephemeral_to(self, user: str) -> list[str]:
        return [c.args["text"] for c in self.fake.calls_for("chat.postEphemeral") if c.args["user"] == user]

    def audit(self, action: str) -> list:
        return [e for e in AuditLog(self.store).entries() if e.action == action]


def _is_gate_request(call: RecordedCall) -> bool:
    return call.status == 200 and ACTION_APPROVE in str(call.args.get("blocks"))


def _approve_button(call: RecordedCall) -> dict:
    elements = [e for b in call.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    return next(e for e in elements if e["action_id"] == ACTION_APPROVE)


def _wait_paused(run_id: str, key: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while PrefectResumer().current_pause(run_id).key != key:
        assert time.monotonic() < deadline, f"run {run_id} never paused at {key}"
        time.sleep(0.2)


@pytest.fixture
def gated(sqlite_url: str) -> Iterator[GatedRun]:
    store = Store.from_url(sqlite_url)
    for component in (Component.MARKET_DATA_PROVIDER, Component.VAR_ENGINE):
        ProductionSafetyManager(store, actor="setup").enable_shadow_mode(component)
    settings = Settings(database_url=sqlite_url, slack_signing_secret=SECRET, slack_bot_token=FAKE_TOKEN)
    with FakeSlackServer() as fake:
        settings = settings.model_copy(update={"slack_api_url": fake.base_url})
        # As `runbook slack serve` wires it: decisions resume runs through Prefect.
        run = GatedRun(store=store, fake=fake, client=AsgiClient(slack_app(settings, store=store)))
        try:
            yield run
        finally:
            _finish(run)
            store.dispose()


def _finish(run: GatedRun) -> None:
    """Reject whatever the run still waits on, so its thread ends with the test."""
    deadline = time.monotonic() + WAIT_S
    while run.thread is not None and run.thread.is_alive() and time.monotonic() < deadline:
        for gate in pending_gates(run.store):
            submit_decision(run.store, flow_run_id=gate.request.flow_run_id, gate_key=gate.request.gate_key,
                            decision=Decision.REJECT, approver="U0CLEANUP", channel=Channel.CLI,
                            resumer=PrefectResumer())
        run.thread.join(0.5)


def test_signed_click_from_an_allowed_user_resumes_the_flow_and_it_promotes(
    gated: GatedRun, sqlite_url: str
) -> None:
    """Gate posted to Slack; an allowed click resumes the run; it moves to canary; the message is updated."""
    gated.start(Component.MARKET_DATA_PROVIDER, critical=False, database_url=sqlite_url)
    gate = gated.next_gate()
    assert gated.click("U0BOB", gate) == 200
    assert gated.outcome() == "approve"
    state = gated.store.state(Component.MARKET_DATA_PROVIDER)
    assert (state.mode, state.traffic_percent) == (Mode.CANARY, pytest.approx(5.0))
    updates = [
        c for c in gated.fake.calls_for("chat.update") if (c.args["channel"], c.args["ts"]) == gate[2:]
    ]
    assert updates
    assert ACTION_APPROVE not in str(updates[-1].args["blocks"])
    assert "<@U0BOB>" in str(updates[-1].args["blocks"])
    assert "resumed" in gated.ephemeral_to("U0BOB")[0]
    accepted = gated.audit("slack_click_accepted")
    assert [(e.actor, e.evidence["gate_key"]) for e in accepted] == [("U0BOB", gate[1])]
    assert accepted[0].evidence["action_ts"]
    assert [e.actor for e in gated.audit("gate_approve")] == ["U0BOB"]


def test_user_not_on_the_gates_allow_list_is_refused(gated: GatedRun, sqlite_url: str) -> None:
    """A verified click from a user outside the gate's policy: 200, ephemeral, audited, run still paused."""
    gated.start(Component.MARKET_DATA_PROVIDER, critical=False, database_url=sqlite_url)
    gate = gated.next_gate()
    assert gated.click("U0MALLORY", gate) == 200
    assert "allow-list" in gated.ephemeral_to("U0MALLORY")[0]
    assert PrefectResumer().current_pause(gate[0]).key == gate[1]
    assert GateStore(gated.store).decision(gate[1]) is None
    assert [e.actor for e in gated.audit("slack_click_refused")] == ["U0MALLORY"]
    assert [e.actor for e in gated.audit("gate_decision_refused")] == ["U0MALLORY"]


def test_initiator_may_not_approve_a_critical_gate(gated: GatedRun, sqlite_url: str) -> None:
    """On a critical gate the run's initiator is refused, even though on the allow-list."""
    gated.start(Component.VAR_ENGINE, critical=True, database_url=sqlite_url)
    gate = gated.next_gate()
    assert gated.click(INITIATOR, gate) == 200
    assert "started this run" in gated.ephemeral_to(INITIATOR)[0]
    assert PrefectResumer().current_pause(gate[0]).key == gate[1]
    assert [e.actor for e in gated.audit("slack_click_refused")] == [INITIATOR]


def test_critical_gate_needs_two_different_approvers(gated: GatedRun, sqlite_url: str) -> None:
    """The first approver cannot fill the second slot; a second, different approver completes the gate."""
    gated.start(Component.VAR_ENGINE, critical=True, database_url=sqlite_url)
    first = gated.next_gate()
    assert gated.click("U0ALICE", first) == 200
    second = gated.next_gate()
    assert second[1] != first[1]
    assert gated.click("U0ALICE", second, n=1) == 200
    assert "second, different approver" in gated.ephemeral_to("U0ALICE")[-1]
    assert PrefectResumer().current_pause(second[0]).key == second[1]
    assert gated.click("U0BOB", second) == 200
    assert gated.outcome() == "approve"
    assert gated.store.state(Component.VAR_ENGINE).mode is Mode.CANARY
    assert [e.actor for e in gated.audit("gate_approve")] == ["U0ALICE", "U0BOB"]
    assert [e.actor for e in gated.audit("slack_click_refused")] == ["U0ALICE"]


def test_stale_button_from_an_earlier_gate_is_refused(gated: GatedRun, sqlite_url: str) -> None:
    """After the gate re-opens under a new key, the old message's button is refused; the new one works."""
    from prefect.flow_runs import resume_flow_run

    gated.start(Component.MARKET_DATA_PROVIDER, critical=False, database_url=sqlite_url)
    old = gated.next_gate()
    # An answer typed into the Prefect UI by someone the policy refuses re-opens the gate (attempt 2).
    ui_answer = {"decision": "approve", "approver": "U0MALLORY"}
    resume_flow_run(old[0], run_input=ui_answer)
    new = gated.next_gate()
    assert new[1] != old[1]
    assert gated.click("U0BOB", old) == 200
    assert "no longer pending" in gated.ephemeral_to("U0BOB")[0]
    assert PrefectResumer().current_pause(new[0]).key == new[1]
    assert gated.click("U0BOB", new, n=1) == 200
    assert gated.outcome() == "approve"
    assert [e.evidence["gate_key"] for e in gated.audit("slack_click_refused")] == [old[1]]


def test_double_click_records_one_decision(gated: GatedRun, sqlite_url: str) -> None:
    """Two clicks on one gate (a reject, then an approve): the first wins, the second is told so."""
    gated.start(Component.MARKET_DATA_PROVIDER, critical=False, database_url=sqlite_url)
    gate = gated.next_gate()
    assert gated.click("U0ALICE", gate, approve=False) == 200
    assert gated.click("U0BOB", gate) == 200
    assert gated.outcome() == "reject"
    decisions = [d for d in GateStore(gated.store).decisions_for_run(gate[0]) if d.gate_key == gate[1]]
    assert [(d.decision, d.approver) for d in decisions] == [(Decision.REJECT, "U0ALICE")]
    assert "Already decided" in gated.ephemeral_to("U0BOB")[0]
    assert [e.actor for e in gated.audit("slack_click_already_decided")] == ["U0BOB"]
    assert gated.store.state(Component.MARKET_DATA_PROVIDER).mode is Mode.SHADOW


def test_slack_down_does_not_block_the_gate(gated: GatedRun, sqlite_url: str) -> None:
    """With Slack refusing connections the flow still pauses at its gate, and the CLI path decides it."""
    gated.fake.go_down("refuse")
    gated.start(Component.MARKET_DATA_PROVIDER, critical=False, database_url=sqlite_url)
    deadline = time.monotonic() + WAIT_S
    while not (pending := pending_gates(gated.store)):
        assert time.monotonic() < deadline, "the run never paused at its gate"
        time.sleep(0.2)
    run_id, key = pending[0].request.flow_run_id, pending[0].request.gate_key
    submit_decision(gated.store, flow_run_id=run_id, gate_key=key, decision=Decision.APPROVE,
                    approver="U0ALICE", channel=Channel.CLI, resumer=PrefectResumer())
    assert gated.outcome() == "approve"


def test_an_expired_gate_shows_its_expiry_then_loses_its_buttons(gated: GatedRun, sqlite_url: str) -> None:
    """The gate message says when it expires; once the gate times out the same message is updated in
    place: no buttons, "Timed out"; a late click is refused and the component stays where it was."""
    gated.start(Component.MARKET_DATA_PROVIDER, critical=False, database_url=sqlite_url, timeout_s=4)
    gate = gated.next_gate()
    request = GateStore(gated.store).request(gate[1])
    assert request is not None
    assert request.expires_at is not None
    posted = next(c for c in gated.fake.calls_for("chat.postMessage") if _is_gate_request(c))
    expiry = request.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f"*Expires:* {expiry}" in str(posted.args["blocks"])
    assert gated.outcome() == "timeout"
    message = gate[2:]
    updates = [c for c in gated.fake.calls_for("chat.update") if (c.args["channel"], c.args["ts"]) == message]
    assert updates, "the expired gate's message was not updated"
    last = updates[-1].args
    assert [b for b in last["blocks"] if b["type"] == "actions"] == []
    assert "Timed out" in str(last["blocks"])
    assert gated.click("U0ALICE", gate) == 200
    decisions = GateStore(gated.store).decisions_for_run(gate[0])
    assert [d.decision for d in decisions if d.gate_key == gate[1]] == [Decision.TIMEOUT]
    assert gated.store.state(Component.MARKET_DATA_PROVIDER).mode is Mode.SHADOW


def test_a_refused_answer_supersedes_the_message_and_its_buttons(gated: GatedRun, sqlite_url: str) -> None:
    """An answer typed into the Prefect resume form by someone off the allow-list is refused: the gate's
    Slack message is updated in place without buttons, saying why, and a new message asks again."""
    from uuid import UUID

    from prefect.client.orchestration import get_client

    gated.start(Component.MARKET_DATA_PROVIDER, critical=False, database_url=sqlite_url)
    first = gated.next_gate()
    with get_client(sync_client=True) as client:
        client.resume_flow_run(UUID(first[0]), run_input={"decision": "approve", "approver": "U0MALLORY",
                                                          "comment": "typed in the UI"})
    second = gated.next_gate()
    assert second[1] != first[1]
    message = first[2:]
    updates = [c for c in gated.fake.calls_for("chat.update") if (c.args["channel"], c.args["ts"]) == message]
    assert updates, "the superseded message kept its buttons"
    assert [b for b in updates[-1].args["blocks"] if b["type"] == "actions"] == []
    assert "not on this gate's approver allow-list" in str(updates[-1].args["blocks"])
    assert gated.click("U0ALICE", second) == 200
    assert gated.outcome() == "approve"
