"""Gates people can trust: verified-only gates, resume tracking, shared nonces, verified starts,
phase-lock holders.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("gate_requests") as batch:
        batch.add_column(sa.Column("verified_only", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("gate_decisions") as batch:
        batch.add_column(sa.Column("resumed_at", _TS, nullable=True))
    op.create_table(
        "seen_nonces",
        sa.Column("nonce", sa.String(200), primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("seen_at", _TS, nullable=False),
    )
    op.create_index("ix_seen_nonces_seen_at", "seen_nonces", ["seen_at"])
    op.create_table(
        "verified_starts",
        sa.Column("ticket", sa.String(64), primary_key=True),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("component", sa.String(64), nullable=False),
        sa.Column("principal", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("flow_run_id", sa.String(64), nullable=True),
        sa.Column("claimed_at", _TS, nullable=True),
    )
    op.create_table(
        "phase_locks",
        sa.Column("component", sa.String(64), primary_key=True),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("lease_id", sa.String(64), nullable=True),
        sa.Column("acquired_at", _TS, nullable=False),
        sa.Column("renewed_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("phase_locks")
    op.drop_table("verified_starts")
    op.drop_index("ix_seen_nonces_seen_at", table_name="seen_nonces")
    op.drop_table("seen_nonces")
    with op.batch_alter_table("gate_decisions") as batch:
        batch.drop_column("resumed_at")
    with op.batch_alter_table("gate_requests") as batch:
        batch.drop_column("verified_only")
