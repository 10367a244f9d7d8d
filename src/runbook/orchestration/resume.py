"""The Prefect side of the decision service's ``RunResumer`` port: read a run's pause, resume it."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from runbook.approvals import PauseInfo
from runbook.errors import ApprovalRefused

__all__ = ["PrefectResumer"]


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
