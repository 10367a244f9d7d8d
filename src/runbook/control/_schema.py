"""The names both rollback paths write by: tables, columns, the schema revision, lock and channel.

Plain strings, no SQLAlchemy: ``models`` builds its tables from these names and the DB-API
rollback (``runbook.control.fast_rollback``) writes SQL with them, so the two cannot drift apart
(a test holds the models' columns equal to these tuples).
"""

from __future__ import annotations

__all__ = [
    "AUDIT_COLUMNS",
    "AUDIT_TABLE",
    "HEAD_REVISION",
    "PG_WRITE_LOCK_KEY",
    "REVISION_QUERY",
    "REVISION_TABLE_EXISTS",
    "STATE_CHANNEL",
    "STATE_COLUMNS",
    "STATE_TABLE",
]

# The newest Alembic revision; checked cheaply so that a store already at head never imports Alembic.
HEAD_REVISION = "0004"
# pg_advisory_xact_lock key shared by every runbook write transaction ("runbook" in ASCII).
PG_WRITE_LOCK_KEY = 0x72756E626F6F6B
# PostgreSQL NOTIFY channel of component_state changes; payload "<component>:<epoch>".
STATE_CHANNEL = "runbook_component_state"

STATE_TABLE = "component_state"
STATE_COLUMNS = ("component", "mode", "traffic_fraction", "epoch", "updated_at", "updated_by", "reason")
AUDIT_TABLE = "audit_log"
# Every column but ``id``, which the database assigns.
AUDIT_COLUMNS = (
    "at", "component", "action", "actor", "from_mode", "to_mode", "from_fraction", "to_fraction",
    "epoch", "reason", "evidence", "prev_hash", "row_hash",
)  # fmt: skip

# Does the Alembic version table exist (by backend), and which revision does it hold.
REVISION_TABLE_EXISTS = {
    "sqlite": "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'",
    "postgresql": "SELECT to_regclass('alembic_version')",
}
REVISION_QUERY = "SELECT version_num FROM alembic_version"
