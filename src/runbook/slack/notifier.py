"""Notifications: Slack when a bot token is configured, else the console and the run log.

A notifier never raises because Slack is slow, rate-limited or down: it logs and returns None,
and a gate then still waits for a decision from the Prefect UI or the CLI.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from slack_sdk import WebClient

from runbook.domain.gates import GateDecisionRecord, GateRequest
from runbook.settings import Settings
from runbook.slack import blocks
from runbook.slack.client import client_from_settings
from runbook.slack.console import ConsoleNotifier

__all__ = ["Notifier", "SlackNotifier", "make_notifier"]

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """What flows, monitors and the interaction endpoint tell people."""

    def gate_requested(self, request: GateRequest, *, run_url: str) -> tuple[str, str] | None: ...

    def gate_decided(self, request: GateRequest, decision_records: Sequence[GateDecisionRecord]) -> None: ...

    def gate_superseded(self, request: GateRequest, reason: str) -> None: ...

    def rollback_alert(
        self, component: str, *, reason: str, evidence: Mapping[str, object], automatic: bool,
        kind: str | None = None,
    ) -> None: ...

    def validation_result(self, component: str, *, passed: bool, summary: Mapping[str, object]) -> None: ...

    def nightly_result(self, rows: Sequence[Mapping[str, object]]) -> None: ...

    def run_update(self, flow_run_id: str, text: str) -> None: ...


class GateMessageSink(Protocol):
    """Where a gate's Slack message is remembered (control's ``GateStore`` fits)."""

    def set_slack_message(self, gate_key: str, channel: str, ts: str) -> None: ...


class SlackNotifier:
    """Posts Block Kit messages; one thread per migration run (keyed by flow run id).

    The first message of a run (its first gate request or progress line) is the thread root;
    ``run_update`` replies in that thread. Channels: ``channels[component]`` else ``default_channel``.
    ``unreachable_cooldown_s``: after a connection failure, seconds during which Slack is skipped.
    """

    def __init__(
        self,
        client: WebClient,
        *,
        default_channel: str,
        channels: Mapping[str, str] | None = None,
        gate_store: GateMessageSink | None = None,
        unreachable_cooldown_s: float = 30.0,
    ) -> None:
        self.client = client
        self.unreachable_cooldown_s = unreachable_cooldown_s
        self._unreachable_until = 0.0
        self.default_channel = default_channel
        self.channels = dict(channels or {})
        self._gate_store = gate_store
        self._lock = threading.Lock()
        self._threads: dict[str, tuple[str, str]] = {}
        self._gate_messages: dict[str, tuple[str, str]] = {}

    def channel_for(self, component: str | None) -> str:
        """The channel a component's messages go to."""
        return self.channels.get(component or "", self.default_channel)

    def thread_of(self, flow_run_id: str) -> tuple[str, str] | None:
        """``(channel, thread_ts)`` of a run's thread, if one was started in this process."""
        with self._lock:
            return self._threads.get(flow_run_id)

    # -- Notifier -------------------------------------------------------------------------------
    def gate_requested(self, request: GateRequest, *, run_url: str) -> tuple[str, str] | None:
        text, layout = blocks.gate_request_blocks(request, run_url=run_url)
        posted = self._post(self.channel_for(request.component), text, layout)
        if posted is None:
            return None
        with self._lock:
            self._threads.setdefault(request.flow_run_id, posted)
            self._gate_messages[request.gate_key] = posted
        self._remember_gate_message(request.gate_key, posted)
        return posted

    def gate_decided(self, request: GateRequest, decision_records: Sequence[GateDecisionRecord]) -> None:
        text, layout = blocks.gate_decided_blocks(request, decision_records)
        message = self._gate_message(request)
        if message is None:
            self._post(self.channel_for(request.component), text, layout)
            return
        channel, ts = message
        self._call("chat_update", channel=channel, ts=ts, text=text, blocks=layout)
        thread = self.thread_of(request.flow_run_id)
        if thread is not None and thread != message:
            self._post(thread[0], text, blocks.run_update_blocks(text), thread_ts=thread[1])

    def gate_superseded(self, request: GateRequest, reason: str) -> None:
        """The gate's message loses its buttons: an answer was refused and a new message asks again."""
        message = self._gate_message(request)
        if message is None:
            return
        text, layout = blocks.gate_superseded_blocks(request, reason)
        self._call("chat_update", channel=message[0], ts=message[1], text=text, blocks=layout)

    def rollback_alert(
        self, component: str, *, reason: str, evidence: Mapping[str, object], automatic: bool,
        kind: str | None = None,
    ) -> None:
        text, layout = blocks.rollback_alert_blocks(
            component, reason=reason, evidence=evidence, automatic=automatic, kind=kind
        )
        self._post(self.channel_for(component), text, layout)

    def validation_result(self, component: str, *, passed: bool, summary: Mapping[str, object]) -> None:
        text, layout = blocks.validation_result_blocks(component, passed=passed, summary=summary)
        self._post(self.channel_for(component), text, layout)

    def nightly_result(self, rows: Sequence[Mapping[str, object]]) -> None:
        text, layout = blocks.nightly_result_blocks(rows)
        self._post(self.default_channel, text, layout)

    def run_update(self, flow_run_id: str, text: str) -> None:
        thread = self.thread_of(flow_run_id)
        if thread is not None:
            self._post(thread[0], text, blocks.run_update_blocks(text), thread_ts=thread[1])
            return
        posted = self._post(self.default_channel, text, blocks.run_update_blocks(text))
        if posted is not None:
            with self._lock:
                self._threads.setdefault(flow_run_id, posted)

    # -- beyond the Notifier protocol -----------------------------------------------------------
    def ephemeral(self, *, channel: str, user: str, text: str) -> bool:
        """Tell one user something only they see (``chat.postEphemeral``); False if it failed."""
        return self._call("chat_postEphemeral", channel=channel, user=user, text=text) is not None

    # -- plumbing -------------------------------------------------------------------------------
    def _post(
        self, channel: str, text: str, layout: list[dict[str, Any]], *, thread_ts: str | None = None
    ) -> tuple[str, str] | None:
        extra = {"thread_ts": thread_ts} if thread_ts else {}
        response = self._call("chat_postMessage", channel=channel, text=text, blocks=layout, **extra)
        if response is None:
            return None
        return str(response.get("channel", channel)), str(response["ts"])

    def _call(self, method: str, **kwargs: Any) -> Any:
        """One Web API call; any failure is logged and becomes None (Slack must never fail a flow).

        After a connection failure, calls are skipped for ``unreachable_cooldown_s`` so that an
        unreachable Slack costs a flow one timeout, not one per message.
        """
        if time.monotonic() < self._unreachable_until:
            log.info("Slack unreachable recently; %s skipped", method)
            return None
        try:
            return getattr(self.client, method)(**kwargs)
        except OSError as exc:  # URLError, refused, reset, timeout: Slack cannot be reached
            self._unreachable_until = time.monotonic() + self.unreachable_cooldown_s
            log.warning("Slack %s failed (%s); skipping Slack for %g s", method, exc,
                        self.unreachable_cooldown_s)
        except Exception as exc:  # noqa: BLE001 - Slack is optional: a failed call is logged, the runbook goes on
            log.warning("Slack %s failed (%s: %s); continuing without it", method, type(exc).__name__, exc)
        return None

    def _gate_message(self, request: GateRequest) -> tuple[str, str] | None:
        if request.slack_channel and request.slack_ts:
            return request.slack_channel, request.slack_ts
        with self._lock:
            return self._gate_messages.get(request.gate_key)

    def _remember_gate_message(self, gate_key: str, message: tuple[str, str]) -> None:
        if self._gate_store is None:
            return
        try:
            self._gate_store.set_slack_message(gate_key, *message)
        except Exception as exc:  # noqa: BLE001 - the message is out; failing to note it must not fail the gate
            log.warning("could not store the Slack message of gate %s: %s", gate_key, exc)


def make_notifier(
    settings: Settings,
    *,
    gate_store: GateMessageSink | None = None,
    secret_loader: Callable[[str], str | None] | None = None,
) -> SlackNotifier | ConsoleNotifier:
    """A ``SlackNotifier`` when a bot token is configured, else a ``ConsoleNotifier``.

    The token comes from ``RUNBOOK_SLACK_BOT_TOKEN``, else from the Prefect Secret block named by
    ``RUNBOOK_SLACK_BOT_TOKEN_BLOCK``. ``gate_store`` (e.g. control's ``GateStore``) records where
    each gate message was posted so the interaction endpoint can update it.
    """
    client = client_from_settings(settings, secret_loader=secret_loader)
    if client is None:
        return ConsoleNotifier()
    return SlackNotifier(
        client, default_channel=settings.slack_default_channel, channels=settings.slack_channels,
        gate_store=gate_store,
    )
