"""What happens after a Slack interaction request is acknowledged: decide, audit, reply.

``ClickHandler`` runs after the HTTP response (see ``runbook.slack.interactions``) and never raises.
Each request leaves exactly one ``slack_*`` audit row, carrying the Slack user id and the action
timestamp when the request has them; ``submit_decision`` adds its own decision rows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from runbook.domain.gates import MAX_ACTOR_CHARS, Channel, Decision, GateDecisionRecord, GateRequest
from runbook.errors import ApprovalRefused, UnknownGate
from runbook.settings import Settings
from runbook.slack.clicks import Click, MalformedClick, parse_click
from runbook.slack.commands import PhaseStarter, SlashCommand, command_meta, start_phase

__all__ = ["UNKNOWN_COMPONENT", "AuditSink", "ClickHandler", "GateLookup", "Replier"]

log = logging.getLogger(__name__)

# Audit rows about requests that name no readable gate are filed under this component name.
UNKNOWN_COMPONENT = "slack"


class AuditSink(Protocol):
    """Control's ``AuditLog`` fits."""

    def append(
        self, *, component: str, action: str, actor: str, reason: str = ...,
        evidence: Mapping[str, Any] | None = ...,
    ) -> Any: ...


class GateLookup(Protocol):
    """Control's ``GateStore`` fits."""

    def request(self, gate_key: str) -> GateRequest | None: ...


class Replier(Protocol):
    """``SlackNotifier`` fits: a private reply to the clicker and the in-place message update."""

    def ephemeral(self, *, channel: str, user: str, text: str) -> bool: ...

    def gate_decided(self, request: GateRequest, decision_records: Sequence[GateDecisionRecord]) -> None: ...


class _Refused(Exception):
    """A verified click refused before or by ``submit_decision``."""


class ClickHandler:
    """Turns verified clicks into decisions through ``runbook.approvals.submit_decision``.

    Dependencies left as None are built on first use from ``settings`` (so the app starts fast).
    """

    def __init__(
        self,
        *,
        settings: Settings,
        store: Any | None = None,
        replier: Replier | None = None,
        submit: Any | None = None,
        audit: AuditSink | None = None,
        gates: GateLookup | None = None,
        starter: PhaseStarter | None = None,
    ) -> None:
        self.settings = settings
        self._starter = starter
        self._refusals = _RefusalCounter()
        self._store: Any = store
        self._submit: Any = submit
        self._replier: Replier | None = replier
        self._audit: AuditSink | None = audit
        self._gates: GateLookup | None = gates
        self._ready = False
        self._lock = threading.Lock()

    # -- entry points (run after the response; never raise) -----------------------------------------
    def handle(self, body: bytes, meta: Mapping[str, object]) -> None:
        """A verified request: parse the click, decide it, audit, reply."""
        try:
            self._wire()
            click = parse_click(body)
        except MalformedClick as exc:
            self._malformed(exc, meta)
            return
        except Exception as exc:
            log.exception("Slack click handling could not start")
            self._record("slack_click_failed", actor="unknown", reason=str(exc), evidence=dict(meta))
            return
        try:
            self._decide(click, meta)
        except Exception as exc:
            log.exception("Slack click on gate %s failed", click.gate_key)
            self._record("slack_click_failed", actor=click.user_id, reason=f"{type(exc).__name__}: {exc}",
                         evidence=_click_evidence(click, meta))
            self._reply(click.channel_id, click.user_id,
                        "Your decision could not be recorded just now; nothing changed. "
                        "Try again, or decide in the Prefect UI or with the runbook CLI.")

    def unverified(self, problem: str, meta: Mapping[str, object]) -> None:
        """A request refused with HTTP 401: counted, and audited in aggregate (one row per minute with
        the counts by reason), without trusting anything in its body."""
        summary = self._refusals.add(problem, meta)
        if summary is None:
            return
        self._safe_wire()
        self._record("slack_request_refused", actor="unverified", reason=summary.reason,
                     evidence=summary.evidence)

    def first_delivery(self, signature: str, fallback: Any) -> bool:
        """True the first time a verified request's signature is seen by any process sharing the store
        (the in-process ``fallback`` when the store cannot be used)."""
        try:
            self._wire()
            if self._store is not None and hasattr(self._store, "write"):
                from runbook.control.nonces import SeenNonces

                return SeenNonces(self._store).first_use(f"slack:{signature}", channel="slack")
        except Exception:
            log.exception("shared replay check failed; using this process's memory")
        return bool(fallback.first_time(signature))

    def command(self, command: SlashCommand, meta: Mapping[str, object]) -> None:
        """A verified ``/runbook PHASE COMPONENT``: start the phase with the user as verified initiator."""
        try:
            self._wire()
            if self._starter is None:
                raise _Refused("starting phases from Slack is not configured on this endpoint "
                               "(`runbook slack serve` configures it)")
            text = start_phase(self._store, command, self._starter, self._audit)
        except Exception as exc:  # noqa: BLE001 - after the answer: told to the user and audited, never raised
            self._record("slack_command_failed", actor=command.user_id, reason=f"{type(exc).__name__}: {exc}",
                         evidence=command_meta(meta, command), component=command.component)
            text = f"Not started: {exc}"
        self._reply(command.channel_id, command.user_id, text)

    def replayed(self, body: bytes, meta: Mapping[str, object]) -> None:
        """A second delivery of an already verified request: audited and otherwise ignored."""
        self._safe_wire()
        try:
            click = parse_click(body)
            actor, evidence = click.user_id, _click_evidence(click, meta)
        except MalformedClick as exc:
            actor, evidence = exc.user_id or "unknown", dict(meta)
        self._record("slack_click_refused", actor=actor, reason="refused: replayed request",
                     evidence=evidence)

    # -- deciding ---------------------------------------------------------------------------------
    def _decide(self, click: Click, meta: Mapping[str, object]) -> None:
        try:
            outcome = self._submit(
                self._store, flow_run_id=click.flow_run_id, gate_key=click.gate_key,
                decision=click.decision, approver=click.user_id, channel=Channel.SLACK,
            )
            if not outcome.accepted and not outcome.already_decided:
                raise _Refused(outcome.message or "the gate's policy did not accept this decision")
        except (_Refused, ApprovalRefused, UnknownGate) as exc:
            request = self._gates.request(click.gate_key) if self._gates else None
            self._record("slack_click_refused", actor=click.user_id, reason=f"refused: {exc}",
                         evidence=_click_evidence(click, meta), component=_component(request))
            self._reply(click.channel_id, click.user_id, f"Not recorded: {exc}")
            return
        request = self._gates.request(click.gate_key) if self._gates else None
        if request is not None:
            self._after(click, request, outcome, meta)

    def _after(self, click: Click, request: GateRequest, outcome: Any, meta: Mapping[str, object]) -> None:
        record: GateDecisionRecord | None = outcome.record
        evidence = {**_click_evidence(click, meta), "resumed": bool(outcome.resumed)}
        if outcome.already_decided:
            self._record("slack_click_already_decided", actor=click.user_id, component=request.component,
                         reason=f"already decided: {outcome.message}", evidence=evidence)
            who = f" ({record.decision} by {record.approver})" if record else ""
            self._reply(click.channel_id, click.user_id, f"Already decided{who}; your click changed nothing.")
            return
        verb = "approved" if click.decision == Decision.APPROVE else "rejected"
        self._record("slack_click_accepted", actor=click.user_id, component=request.component,
                     reason=f"{verb} via Slack", evidence=evidence)
        message = replace(request, slack_channel=request.slack_channel or click.channel_id,
                          slack_ts=request.slack_ts or click.message_ts)
        if self._replier is not None and record is not None:
            self._replier.gate_decided(message, [record])
        after = " The run resumed." if outcome.resumed else f" {outcome.message}"
        if getattr(outcome, "resume_failed", False):
            after = (" Your decision is recorded, but the run could not be resumed yet; the runbook "
                     "retries until it lands or the gate times out.")
        self._reply(click.channel_id, click.user_id, f"Recorded: you {verb} {request.title}.{after}")

    def _malformed(self, exc: MalformedClick, meta: Mapping[str, object]) -> None:
        evidence = {**meta, "slack_user": exc.user_id, "action_ts": exc.action_ts}
        self._record("slack_click_refused", actor=exc.user_id or "unknown",
                     reason=f"refused: malformed payload: {exc.reason}", evidence=evidence)
        self._reply(exc.channel_id, exc.user_id,
                    f"Nothing recorded: this request is not a readable gate click ({exc.reason}).")

    # -- plumbing ---------------------------------------------------------------------------------
    def _record(self, action: str, *, actor: str, reason: str, evidence: Mapping[str, object],
                component: str | None = None) -> None:
        if self._audit is None:
            log.warning("no audit log: %s by %s: %s", action, actor, reason)
            return
        try:
            self._audit.append(component=component or UNKNOWN_COMPONENT, action=action,
                               actor=actor[:MAX_ACTOR_CHARS], reason=reason[:2000], evidence=dict(evidence))
        except Exception:
            log.exception("could not audit %s by %s (%s)", action, actor, reason)

    def _reply(self, channel: str | None, user: str | None, text: str) -> None:
        if self._replier is None or not channel or not user:
            log.info("Slack reply not sent (no bot token, channel or user): %s", text)
            return
        self._replier.ephemeral(channel=channel, user=user, text=text)

    def _safe_wire(self) -> None:
        try:
            self._wire()
        except Exception:
            log.exception("Slack endpoint dependencies are unavailable")

    def _wire(self) -> None:
        """Build the dependencies left as None, once."""
        with self._lock:
            if self._ready:
                return
            if self._store is None and (self._audit is None or self._gates is None or self._submit is None):
                from runbook.control.store import Store

                self._store = Store.from_settings(self.settings)
            if self._audit is None:
                from runbook.control.audit import AuditLog

                self._audit = AuditLog(self._store)
            if self._gates is None:
                from runbook.control.gates import GateStore

                self._gates = GateStore(self._store)
            if self._submit is None:  # records only: the paused run delivers it (runbook slack serve resumes)
                from runbook.approvals import submit_decision

                self._submit = submit_decision
            if self._replier is None:
                self._replier = _default_replier(self.settings)
            self._ready = True


def _default_replier(settings: Settings) -> Replier | None:
    from runbook.slack.notifier import SlackNotifier, make_notifier

    notifier = make_notifier(settings)
    return notifier if isinstance(notifier, SlackNotifier) else None


def _click_evidence(click: Click, meta: Mapping[str, object]) -> dict[str, object]:
    return {**meta, "slack_user": click.user_id, "action_ts": click.action_ts, "gate_key": click.gate_key,
            "flow_run_id": click.flow_run_id, "decision": click.decision.value}


def _component(request: GateRequest | None) -> str | None:
    return request.component if request is not None else None


@dataclass(frozen=True, slots=True)
class _Summary:
    reason: str
    evidence: dict[str, object]


class _RefusalCounter:
    """Unauthenticated requests counted by reason; one audit summary per ``window_s`` (the first
    request of a quiet period is reported at once, the rest when their window closes)."""

    def __init__(self, *, window_s: float = 60.0, clock: Any = time.monotonic) -> None:
        self._window_s, self._clock = window_s, clock
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._opened: float | None = None
        self.total = 0

    def add(self, problem: str, meta: Mapping[str, object]) -> _Summary | None:
        now = self._clock()
        with self._lock:
            self.total += 1
            if self._opened is not None and now - self._opened < self._window_s:
                self._counts[problem] += 1
                return None
            held, self._counts, self._opened = self._counts, Counter(), now
        counts = held + Counter({problem: 1})
        reasons = ", ".join(f"{count} {reason}" for reason, count in counts.most_common())
        return _Summary(f"refused {sum(counts.values())} unauthenticated request(s): {reasons}",
                        {"counts": dict(counts), "last_remote": meta.get("remote"),
                         "window_s": self._window_s})
