"""Approvers that answer gates from inside a process: the demo's, the console prompt, tests'.

They watch for pending gates and answer through the decision service with Prefect's resume port, the same path
as the CLI and Slack, so policy, records and audit rows are identical. The demo approver picks,
for each slot, a name the gate's policy accepts (critical gates get two different demo approvers,
neither the initiator) and records ``channel=demo``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runbook.approvals import prior_approvers, submit_decision
from runbook.control.gates import GateStore
from runbook.domain.gates import Channel, Decision, GateRequest
from runbook.errors import ApprovalRefused
from runbook.orchestration.pending import pending_gates
from runbook.orchestration.resume import PrefectResumer

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["DEMO_APPROVERS", "Answer", "BackgroundApprover", "approve_as_demo", "ask_on_console"]

log = logging.getLogger(__name__)

DEMO_APPROVERS = ("demo-approver-1", "demo-approver-2")


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer to a gate: approve or reject, by whom, why."""

    decision: Decision
    approver: str
    comment: str = ""


# ``(request, names already used on this gate) -> Answer``, or None to leave the gate alone.
Chooser = Callable[[GateRequest, set[str]], Answer | None]


def approve_as_demo(names: Sequence[str] = DEMO_APPROVERS) -> Chooser:
    """Approve every gate as the first of ``names`` the gate's policy still accepts."""

    def choose(request: GateRequest, used: set[str]) -> Answer | None:
        for name in names:
            if name not in used and name != request.initiator:
                return Answer(Decision.APPROVE, name, "approved by the demo approver")
        return None

    return choose


class BackgroundApprover:
    """A thread that answers pending gates of ``store`` with ``choose`` every ``poll_s`` seconds.

    ``answered`` lists (gate key, decision, approver) in order; ``refusals`` the refused answers.
    """

    def __init__(
        self, store: Store, choose: Chooser, *, channel: Channel = Channel.DEMO, poll_s: float = 0.5
    ) -> None:
        self._store, self._choose, self._channel, self._poll_s = store, choose, channel, poll_s
        self._resumer = PrefectResumer()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runbook-approver", daemon=True)
        self.answered: list[tuple[str, str, str]] = []
        self.refusals: list[str] = []

    def __enter__(self) -> BackgroundApprover:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self._poll_s):
            try:
                for gate in pending_gates(self._store):
                    self._answer(gate.request)
            except Exception:  # a transient API or store error must not end the approver
                log.exception("approver could not read the pending gates")

    def _answer(self, request: GateRequest) -> None:
        decided = GateStore(self._store).decisions_for_run(request.flow_run_id)
        used = prior_approvers(decided, request.gate_key)
        answer = self._choose(request, used)
        if answer is None:
            return
        try:
            submit_decision(
                self._store, flow_run_id=request.flow_run_id, gate_key=request.gate_key,
                decision=answer.decision, approver=answer.approver, channel=self._channel,
                comment=answer.comment, resumer=self._resumer,
            )
        except ApprovalRefused as exc:
            self.refusals.append(str(exc))
            return
        self.answered.append((request.gate_key, answer.decision.value, answer.approver))


def ask_on_console(*, ask: Callable[[str], str] = input, default_approver: str = "") -> Chooser:
    """Ask on stdin for each gate: approve or reject, and who answers (critical gates: two people).

    End of input stops asking: the gates then wait for the Prefect UI or the CLI.
    """
    closed = [False]

    def choose(request: GateRequest, used: set[str]) -> Answer | None:
        if closed[0]:
            return None
        try:
            verdict = ask(f"\n{request.title}\n  approve or reject? [a/r] ").strip().lower()
            if verdict not in ("a", "approve", "r", "reject"):
                return None
            initiator = request.initiator if request.policy.forbid_initiator else None
            barred = sorted(used | ({initiator} if initiator else set()))
            hint = f" (not {', '.join(barred)})" if barred else ""
            suggested = default_approver if default_approver not in barred else ""
            name = ask(f"  your name{hint} [{suggested}]: ").strip() or suggested
        except EOFError:
            closed[0] = True
            return None
        if not name:
            return None
        decision = Decision.APPROVE if verdict.startswith("a") else Decision.REJECT
        return Answer(decision, name, "answered on the console")

    return choose
