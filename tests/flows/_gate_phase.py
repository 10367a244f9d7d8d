"""A phase that holds its component's lock and asks one gate, run as its own process by
test_flows_server_restart: the runbook's real lock, gate, pause and resume, without a validation's
minutes of arithmetic.

    python tests/flows/_gate_phase.py COMPONENT INITIATOR ask|no-ask
"""

from __future__ import annotations

import sys

from prefect import flow

from runbook.domain.components import parse_component
from runbook.domain.plans import Phase
from runbook.orchestration.params import GateOptions
from runbook.orchestration.phase import begin_phase


@flow(name="gate-phase")
def gate_phase(component: str, initiator: str, ask: bool) -> str:
    """Hold the phase lock; with ``ask``, wait at one gate (polled every second) for its answer."""
    with begin_phase(Phase.CANARY, parse_component(component), initiator=initiator) as run:
        decision = "no gate"
        if ask:
            answer = run.ask(step="restart", title=f"{component}: on across a server restart?",
                             evidence={"purpose": "restart drill"},
                             options=GateOptions(timeout_s=300, poll_interval_s=1))
            decision = answer.decision.value
        run.complete(result=decision)
        return decision


if __name__ == "__main__":
    state = gate_phase(sys.argv[1], sys.argv[2], sys.argv[3] == "ask", return_state=True)
    print(f"gate-phase: {state.type.value} {state.message or ''}")
    sys.exit(0 if state.is_completed() else 1)
