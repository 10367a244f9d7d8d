"""``runbook requests export COMPONENT --to FILE``: requests routers recorded, as a requests file.

Routers record requests into the store when given a ``RequestCapture`` (a sampled share in shadow,
mismatches in canary and full); the file is JSON Lines, one request per line, ready for
``runbook validate COMPONENT --requests FILE``. Light on purpose: argparse only at import time.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook.settings import Settings


def register(subparsers: Any) -> None:
    """Add ``requests export`` to the ``runbook`` parser."""
    parser = subparsers.add_parser("requests", help="requests recorded by routers")
    commands = parser.add_subparsers(dest="requests_command", required=True, metavar="COMMAND")
    export = commands.add_parser(
        "export", help="write a component's recorded requests as a requests file (JSON Lines)",
        description="Write COMPONENT's requests recorded in the store (shadow samples, mismatches) to "
        "FILE, one request per line, for runbook validate COMPONENT --requests FILE.",
    )  # fmt: skip
    export.add_argument("component")
    export.add_argument("--to", required=True, metavar="FILE", help="the JSON Lines file to write")
    export.add_argument("--reason", choices=("all", "sample", "mismatch"), default="all",
                        help="which recorded requests (default all)")  # fmt: skip
    export.add_argument("--since", type=float, default=None, metavar="UNIX_SECONDS",
                        help="recorded at or after")  # fmt: skip
    export.add_argument("--limit", type=int, default=None, metavar="N",
                        help="at most N requests (oldest first)")  # fmt: skip
    export.set_defaults(handler=_export)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from runbook.control.captures import CaptureStore
    from runbook.control.store import Store
    from runbook.domain.components import parse_component
    from runbook.errors import BadParameter
    from runbook.scenarios.captured_export import export_rows

    component = parse_component(args.component).value
    if args.limit is not None and args.limit < 1:
        raise BadParameter(f"--limit {args.limit} must be >= 1")
    target = Path(args.to)
    if not target.parent.is_dir():
        raise BadParameter(f"--to {args.to!r}: folder {str(target.parent)!r} does not exist")
    reason = None if args.reason == "all" else args.reason
    with Store.from_settings(settings) as store:
        recorded = CaptureStore(store)
        captures = recorded.captures(component, since=args.since, reason=reason, limit=args.limit)
    exported = export_rows(captures)
    if not exported.rows:
        print(f"{component}: no recorded request to export ({len(captures)} capture(s), "
              f"{exported.skipped} without a payload); routers record them with a RequestCapture")
        return 1
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text("".join(json.dumps(row, separators=(",", ":")) + "\n" for row in exported.rows))
    os.replace(partial, target)  # nothing half written
    print(f"{component}: {len(exported.rows)} request(s) written to {target} "
          f"({exported.skipped} recorded without a payload skipped)")  # fmt: skip
    return 0
