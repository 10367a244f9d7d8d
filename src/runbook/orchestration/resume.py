"""The Prefect side of the gate ports: read a run's pause and resume it (the decision service's
``RunResumer``), start a phase deployment (the Slack command's ``PhaseStarter``), and the Slack app
wired with both."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from runbook.approvals import PauseInfo
from runbook.errors import ApprovalRefused

__all__ = ["PrefectResumer", "prefect_starter", "slack_app"]


class PrefectResumer:
    """Reads pauses and resumes runs through the Prefect API in force (PREFECT_API_URL)."""

    def current_pause(self, flow_run_id: str) -> PauseInfo:
        """The run's current pause key and expiry; ApprovalRefused when Prefect cannot say."""
        from prefect.client.orchestration import get_client

        try:
            with get_client(sync_client=True) as client:
                run = client.read_flow_run(UUID(flow_run_id))
        except Exception as exc:
            raise ApprovalRefused(f"cannot read run {flow_run_id} from Prefect: {exc}") from exc
        state = run.state
        if state is None or not state.is_paused():
            return PauseInfo(None, None, (state.name if state else None) or "unknown")
        details = state.state_details
        return PauseInfo(details.pause_key, details.pause_timeout, state.name or "Paused")

    def resume(self, flow_run_id: str, run_input: Mapping[str, str]) -> tuple[bool, str]:
        """(True, "") when Prefect accepted the resume, else (False, why)."""
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.responses import SetStateStatus

        try:
            with get_client(sync_client=True) as client:
                response = client.resume_flow_run(UUID(flow_run_id), run_input=dict(run_input))
        except Exception as exc:  # noqa: BLE001 - the decision stays recorded; the caller retries
            return False, f"{type(exc).__name__}: {exc}"
        if response.status is not SetStateStatus.ACCEPT:
            return False, getattr(response.details, "reason", "") or response.status.value
        return True, ""


def prefect_starter(*, phase: str, component: str, initiator: str, start_ticket: str) -> str:
    """Start the phase's deployment (``<phase>/<phase>``, served by ``runbook up``) without waiting."""
    from prefect.deployments import run_deployment

    run = run_deployment(f"{phase}/{phase}", timeout=0, parameters={
        "component": component, "initiator": initiator, "start_ticket": start_ticket,
    })
    return str(getattr(run, "name", None) or getattr(run, "id", ""))


def slack_app(settings: Any, **ports: Any) -> Any:
    """The Slack endpoint with Prefect behind its ports: decisions resume runs, commands start them."""
    from functools import partial

    from runbook.approvals import submit_decision
    from runbook.slack.interactions import create_app

    ports.setdefault("submit", partial(submit_decision, resumer=PrefectResumer()))
    ports.setdefault("starter", prefect_starter)
    return create_app(settings, **ports)
