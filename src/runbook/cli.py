"""The ``runbook`` command: parse, build Settings, call the library.

Each area registers its subcommands from a light module in ``runbook._cli``; heavy imports
(Prefect, Great Expectations, Slack, pandas) happen inside the handlers that need them, so
``runbook status`` starts fast. ``runbook rollback`` is dispatched before any of that: it builds
its own parser and writes through the DB-API (``runbook.control.fast_rollback``: no SQLAlchemy),
taking the full path only for a store that path does not handle. A parser may also set
``settings_factory``: a callable returning a lighter object with the settings its handler reads
(the control commands read only the store URL, and so never import pydantic-settings).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from runbook.errors import RunbookError, UserInputError

# Modules exposing ``register(subparsers)``; each parser sets ``handler(args, settings) -> int``.
COMMAND_MODULES = (
    "runbook._cli.control",
    "runbook._cli.validate",
    "runbook._cli.quality",
    "runbook._cli.flows",
    "runbook._cli.slack",
    "runbook._cli.replay",
    "runbook._cli.observations",
    "runbook._cli.incident",
    "runbook._cli.requests",
)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser, subparsers = _top_parser()
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["rollback"]:
        return _guarded(lambda: _fast_rollback(argv))
    args = build_parser().parse_args(argv)
    return _guarded(lambda: int(args.handler(args, _settings_factory(args)())))


def _top_parser() -> tuple[argparse.ArgumentParser, Any]:
    parser = argparse.ArgumentParser(prog="runbook", description="ADR-0011 migration runbook")
    return parser, parser.add_subparsers(dest="command", required=True, metavar="COMMAND")


def _fast_rollback(argv: list[str]) -> int:
    """``runbook rollback`` before any other command module loads (see runbook._cli.emergency)."""
    from runbook._cli.control import add_rollback_parser
    from runbook._cli.emergency import fast_rollback

    parser, subparsers = _top_parser()
    add_rollback_parser(subparsers)
    args = parser.parse_args(argv)
    return fast_rollback(args, args.settings_factory())


def _guarded(run: Callable[[], int]) -> int:
    """``run()``, with runbook's errors as one line on stderr and their exit codes."""
    try:
        return run()
    except UserInputError as exc:
        print(f"runbook: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RunbookError as exc:
        print(f"runbook: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("runbook: interrupted", file=sys.stderr)
        return 130


def _settings_factory(args: argparse.Namespace) -> Callable[[], Any]:
    factory: Callable[[], Any] | None = getattr(args, "settings_factory", None)
    if factory is not None:
        return factory
    from runbook.settings import load_settings

    return load_settings


if __name__ == "__main__":
    sys.exit(main())
