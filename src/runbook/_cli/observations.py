"""``runbook observations prune|rollup``: keep the observations table bounded.

Raw observations are kept for ``--retention-days`` (default ``RUNBOOK_OBSERVATION_RETENTION_DAYS``,
7); per-minute rollups are kept for good. Light at import: the store loads in the handler.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import TYPE_CHECKING, Any

from runbook.errors import BadParameter

if TYPE_CHECKING:
    from runbook.settings import Settings


def register(subparsers: Any) -> None:
    """Add ``observations`` (``prune``, ``rollup``) to the ``runbook`` parser."""
    parser = subparsers.add_parser("observations", help="roll up and prune recorded observations")
    commands = parser.add_subparsers(dest="observations_command", required=True, metavar="ACTION")
    prune = commands.add_parser(
        "prune",
        help="roll up whole minutes, then delete raw observations older than the retention window",
    )
    prune.add_argument(
        "--retention-days", type=_days, default=None,
        help="days of raw observations to keep (default RUNBOOK_OBSERVATION_RETENTION_DAYS, 7)",
    )  # fmt: skip
    prune.add_argument("--json", action="store_true", help="print the figures as JSON")
    prune.set_defaults(handler=_prune)
    rollup = commands.add_parser("rollup", help="roll up every whole minute not yet rolled up")
    rollup.add_argument("--json", action="store_true", help="print the figures as JSON")
    rollup.set_defaults(handler=_rollup)


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"retention {text!r} must be a number of days >= 0")
    return value


def _prune(args: argparse.Namespace, settings: Settings) -> int:
    from runbook.control.store import Store
    from runbook.monitoring.retention import prune_observations

    days = settings.observation_retention_days if args.retention_days is None else args.retention_days
    if not math.isfinite(days) or days < 0:
        raise BadParameter(f"RUNBOOK_OBSERVATION_RETENTION_DAYS {days!r} must be a number of days >= 0")
    with Store.from_settings(settings) as store:
        outcome = prune_observations(store, now=time.time(), retention_days=days)
    figures = {
        "retention_days": days, "cutoff": outcome.cutoff, "deleted": outcome.deleted,
        "rolled_up_rows": outcome.rollup.raw_rows, "rollups_written": outcome.rollup.rollups,
        "rolled_until": outcome.rollup.rolled_until,
    }  # fmt: skip
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(
        f"rolled up {outcome.rollup.raw_rows} observations into {outcome.rollup.rollups} minute rollups; "
        f"deleted {outcome.deleted} raw observations older than {days:g} days"
    )
    return 0


def _rollup(args: argparse.Namespace, settings: Settings) -> int:
    from runbook.control.store import Store
    from runbook.monitoring.retention import roll_up

    with Store.from_settings(settings) as store:
        outcome = roll_up(store, now=time.time())
    figures = {"rolled_up_rows": outcome.raw_rows, "rollups_written": outcome.rollups,
               "rolled_until": outcome.rolled_until}  # fmt: skip
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"rolled up {outcome.raw_rows} observations into {outcome.rollups} minute rollups")
    return 0
