"""Slack: Block Kit messages, the Web API client, notifiers and the interaction endpoint.

Modules (imported directly; this package imports nothing so that ``runbook.slack.blocks`` stays cheap):

- ``blocks``: Block Kit payloads (pure): gate requests and decisions, alerts, results.
- ``client``: ``make_web_client`` (429 and connection retries), ``bot_token``, ``check_auth``.
- ``notifier``: ``make_notifier(settings) -> SlackNotifier | ConsoleNotifier``, the ``Notifier`` protocol.
- ``console``: ``ConsoleNotifier`` (stdout and the Prefect run log) when Slack is not configured.
- ``clicks``: signature checks and gate clicks (pure); ``handler``: what a click does after the ack.
- ``interactions``: ``create_app(settings, ...)``, the ASGI app behind ``runbook slack serve``.
- ``testing``: ``FakeSlackServer`` and signed interaction requests for tests.
"""
