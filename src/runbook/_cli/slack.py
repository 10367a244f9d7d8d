"""``runbook slack serve`` (the interaction endpoint) and ``runbook slack check`` (auth.test)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runbook.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("slack", help="Slack notifications and gate approvals")
    commands = parser.add_subparsers(dest="slack_command", required=True, metavar="SLACK_COMMAND")

    serve = commands.add_parser(
        "serve", help="serve POST /slack/interactions and GET /healthz (Slack's Request URL)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=3000, help="TCP port (default 3000)")
    serve.set_defaults(handler=_serve)

    check = commands.add_parser("check", help="call auth.test with the configured bot token")
    check.set_defaults(handler=_check)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from runbook.control.store import Store
    from runbook.errors import BadParameter
    from runbook.orchestration.resume import slack_app

    if not 0 < args.port < 65536:
        raise BadParameter(f"--port {args.port} is outside 1..65535")
    if not settings.slack_signing_secret:
        raise BadParameter("RUNBOOK_SLACK_SIGNING_SECRET is not set; the endpoint refuses unsigned requests")
    # Open the store now: a wrong database URL should fail at start, not at the first click.
    app = slack_app(settings, store=Store.from_settings(settings))
    print(f"runbook: Slack interactions on http://{args.host}:{args.port}/slack/interactions")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def _check(args: argparse.Namespace, settings: Settings) -> int:  # noqa: ARG001 - every command handler takes (args, settings)
    from runbook.errors import BadParameter
    from runbook.slack.client import check_auth, client_from_settings

    client = client_from_settings(settings)
    if client is None:
        raise BadParameter("RUNBOOK_SLACK_BOT_TOKEN is not set; messages go to the console")
    auth = check_auth(client)
    if not auth.ok:
        print(f"runbook: Slack auth.test failed at {settings.slack_api_url}: {auth.error}")
        return 1
    print(f"Slack OK: team {auth.team} ({auth.url}), bot user {auth.user} ({auth.bot_id})")
    per_component = settings.slack_channels or "none"
    print(f"default channel {settings.slack_default_channel}; per component: {per_component}")
    return 0
