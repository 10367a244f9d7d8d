"""``runbook status | shadow | canary | promote | retire | rollback | audit | db upgrade``.

Light on purpose: only argparse at import time; the store (SQLAlchemy) and rich load inside the
handlers, and nothing here ever imports pandas, Prefect, Great Expectations or Slack, so
``runbook rollback`` starts fast even when those are slow or broken. These commands need one
setting, the state store's URL, so they read it with ``StoreSettings`` instead of building the
full ``Settings``: pydantic-settings is never imported (about a quarter of the command's start-up),
and a malformed, unrelated ``RUNBOOK_*`` variable cannot stop an emergency rollback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook._cli import emergency
from runbook._cli import os_user as _os_user

if TYPE_CHECKING:
    from runbook.control.store import Store
    from runbook.domain.state import ComponentState

ALL_COMPONENTS = "all_components"
_PREFIX = "runbook_"


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """The state store settings, read from the environment exactly as ``Settings`` reads them.

    ``RUNBOOK_DATABASE_URL`` (names are case-insensitive, as in pydantic-settings), else a SQLite
    file under ``RUNBOOK_HOME`` (default ``.runbook``). A test holds ``resolved_database_url``
    equal to ``Settings().resolved_database_url``.
    """

    database_url: str | None
    home: Path
    store_timeout_s: float = 5.0  # as Settings.store_timeout_s
    rollback_deadline_s: float = 25.0  # as Settings.rollback_deadline_s

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> StoreSettings:
        """Read the store settings from ``environ`` (default: this process's); BadSetting if one is bad."""
        found = {key.lower(): value for key, value in (os.environ if environ is None else environ).items()
                 if key.lower().startswith(_PREFIX)}  # fmt: skip
        return cls(
            database_url=found.get(f"{_PREFIX}database_url"),
            home=Path(found.get(f"{_PREFIX}home", ".runbook")),
            store_timeout_s=_seconds(found, "store_timeout_s", 5.0),
            rollback_deadline_s=_seconds(found, "rollback_deadline_s", 25.0),
        )

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or a SQLite file under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'runbook.db').resolve()}"


def _seconds(found: Mapping[str, str], name: str, default: float) -> float:
    raw = found.get(_PREFIX + name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        from runbook.errors import BadSetting

        raise BadSetting(f"RUNBOOK_{name.upper()}={raw!r} is not a number of seconds > 0")
    return value


def register(subparsers: Any) -> None:
    """Add the control-plane commands to the ``runbook`` parser."""
    status = subparsers.add_parser("status", help="where each component's traffic goes")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(handler=_status)

    for name, help_text, handler in (
        ("shadow", "run the candidate beside legacy (callers keep legacy's answer)", _shadow),
        ("promote", "send all traffic to the candidate (mode full)", _promote),
        ("retire", "record that legacy was removed (no rollback after this)", _retire),
    ):
        parser = subparsers.add_parser(name, help=help_text)
        parser.add_argument("component")
        _common(parser)
        parser.set_defaults(handler=handler)

    canary = subparsers.add_parser("canary", help="send PERCENT of routing keys to the candidate")
    canary.add_argument("component")
    canary.add_argument("percent", help="candidate traffic share, in the open interval (0, 100)")
    _common(canary)
    canary.set_defaults(handler=_canary)

    add_rollback_parser(subparsers)
    emergency.register(subparsers)

    audit = subparsers.add_parser("audit", help="show or verify the audit log")
    audit.add_argument("--verify", action="store_true", help="walk the hash chain; exit 1 if broken")
    audit.add_argument("--component", help="only this component's rows")
    audit.add_argument("--limit", type=int, default=20, help="newest N rows (default 20; 0 = all)")
    audit.add_argument("--json", action="store_true", help="print JSON instead of a table")
    audit.set_defaults(handler=_audit)

    db = subparsers.add_parser("db", help="state store administration")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_commands.add_parser("upgrade", help="create or upgrade the schema").set_defaults(handler=_db_upgrade)

    # Every command here reads only the store URL (see the module docstring).
    for name in ("status", "shadow", "canary", "promote", "retire", "rollback", "audit", "db"):
        subparsers.choices[name].set_defaults(settings_factory=StoreSettings.from_environ)


def add_rollback_parser(subparsers: Any) -> None:
    """Add ``rollback`` (to the full command line, and alone for the fast path in ``runbook.cli``)."""
    rollback = subparsers.add_parser("rollback", help="send all traffic back to legacy now")
    rollback.add_argument("component", help=f"a component name or {ALL_COMPONENTS}")
    _common(rollback, reason_required=True)
    rollback.set_defaults(handler=emergency.rollback, settings_factory=StoreSettings.from_environ)


def _common(parser: argparse.ArgumentParser, *, reason_required: bool = False) -> None:
    parser.add_argument("--reason", required=reason_required, default="", help="why (kept in the audit log)")
    parser.add_argument("--actor", default=_os_user(), help="who (default: the OS user)")



# ---- handlers ---------------------------------------------------------------------------------
def _status(args: argparse.Namespace, settings: StoreSettings) -> int:
    with _open(settings) as store:
        states = store.states()
    if args.json:
        print(json.dumps({"components": [_state_json(s) for s in states.values()]}, indent=2))
        return 0
    from rich.table import Table

    table = Table(title=f"runbook status ({store.display_url})")
    for column in ("component", "mode", "traffic %", "epoch", "updated at (UTC)", "by", "reason"):
        table.add_column(column, justify="right" if column in ("traffic %", "epoch") else "left")
    for s in states.values():
        when = s.updated_at.strftime("%Y-%m-%d %H:%M:%S") if s.updated_at else "-"
        table.add_row(
            s.component, s.mode.value, f"{s.traffic_percent:g}", str(s.epoch), when, s.updated_by, s.reason
        )
    _console().print(table)
    return 0


def _shadow(args: argparse.Namespace, settings: StoreSettings) -> int:
    return _move(args, settings, lambda m: m.enable_shadow_mode(args.component, reason=args.reason))


def _canary(args: argparse.Namespace, settings: StoreSettings) -> int:
    from runbook.control.safety import parse_percent

    parse_percent(args.percent)  # refused before the store is opened
    return _move(
        args, settings, lambda m: m.enable_canary_deployment(args.component, args.percent, reason=args.reason)
    )


def _promote(args: argparse.Namespace, settings: StoreSettings) -> int:
    return _move(args, settings, lambda m: m.promote(args.component, reason=args.reason))


def _retire(args: argparse.Namespace, settings: StoreSettings) -> int:
    return _move(args, settings, lambda m: m.retire(args.component, reason=args.reason))


def _move(args: argparse.Namespace, settings: StoreSettings, change: Any) -> int:
    from runbook.control.safety import ProductionSafetyManager, check_move_input
    from runbook.domain.components import parse_component

    name = parse_component(args.component).value
    check_move_input(args.actor, args.reason)
    with _open(settings) as store:
        before = store.state(name)
        after = change(ProductionSafetyManager(store, actor=args.actor))
    print(f"{name}: {_describe(before)} -> {_describe(after)} (epoch {after.epoch}) by {after.updated_by}")
    return 0


def _audit(args: argparse.Namespace, settings: StoreSettings) -> int:
    from runbook.control.audit import AuditLog
    from runbook.errors import BadParameter

    if args.limit < 0:
        raise BadParameter(f"--limit {args.limit} must be >= 0 (0 shows every row)")
    with _open(settings) as store:
        log = AuditLog(store)
        if args.verify:
            count = log.verify()
            print(f"audit chain verified: {count} row(s), head {log.head()[:16]}")
            return 0
        entries = log.entries(component=args.component, limit=args.limit or None)
    if args.json:
        rows = [_entry_json(e) for e in entries]
        print(json.dumps({"entries": rows}, indent=2))
        return 0
    from rich.table import Table

    table = Table(title="runbook audit log (oldest first)")
    for column in ("id", "at (UTC)", "component", "action", "change", "epoch", "actor", "reason"):
        table.add_column(column)
    for e in entries:
        change = f"{e.from_mode} -> {e.to_mode}" if e.from_mode or e.to_mode else ""
        table.add_row(
            str(e.id),
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.component,
            e.action,
            change,
            "" if e.epoch is None else str(e.epoch),
            e.actor,
            e.reason,
        )
    _console().print(table)
    return 0


def _db_upgrade(args: argparse.Namespace, settings: StoreSettings) -> int:  # noqa: ARG001 - every command handler takes (args, settings)
    from runbook.control.store import Store

    url, timeout_s = settings.resolved_database_url, settings.store_timeout_s
    store = Store.from_url(url, upgrade=False, timeout_s=timeout_s, create=True)
    try:
        before = store.revision()
        after = store.upgrade()
    finally:
        store.dispose()
    change = "already at" if before == after else f"upgraded from {before or 'empty'} to"
    print(f"state store {store.display_url}: {change} revision {after} (head)")
    return 0


# ---- helpers ----------------------------------------------------------------------------------
def _console() -> Any:
    from rich.console import Console

    # Piped output (logs, CI) gets a wide table instead of rich's 80-column default.
    return Console(width=None if sys.stdout.isatty() else 160)


def _open(settings: StoreSettings) -> Store:
    from runbook.control.store import Store

    return Store.from_url(settings.resolved_database_url, timeout_s=settings.store_timeout_s)


def _describe(state: ComponentState) -> str:
    if state.mode.value == "canary":
        return f"canary {state.traffic_percent:g}%"
    return state.mode.value


def _state_json(state: ComponentState) -> dict[str, Any]:
    return {
        "component": state.component,
        "mode": state.mode.value,
        "traffic_percent": state.traffic_percent,
        "epoch": state.epoch,
        "updated_at": state.updated_at.isoformat() if state.updated_at else None,
        "updated_by": state.updated_by,
        "reason": state.reason,
    }


def _entry_json(entry: Any) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "component": entry.component,
        "action": entry.action,
        "actor": entry.actor,
        "from_mode": entry.from_mode,
        "to_mode": entry.to_mode,
        "from_fraction": entry.from_fraction,
        "to_fraction": entry.to_fraction,
        "epoch": entry.epoch,
        "reason": entry.reason,
        "evidence": entry.evidence,
        "prev_hash": entry.prev_hash,
        "row_hash": entry.row_hash,
    }
