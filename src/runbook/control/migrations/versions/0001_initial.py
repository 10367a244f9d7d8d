"""Initial schema: component_state, audit_log, observations, gate_requests, gate_decisions, baselines.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "component_state",
        sa.Column("component", sa.String(64), primary_key=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("traffic_fraction", sa.Float(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("component", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("from_mode", sa.String(16), nullable=True),
        sa.Column("to_mode", sa.String(16), nullable=True),
        sa.Column("from_fraction", sa.Float(), nullable=True),
        sa.Column("to_fraction", sa.Float(), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_index("ix_audit_log_component_id", "audit_log", ["component", "id"])
    op.create_table(
        "observations",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("component", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("route", sa.String(16), nullable=False),
        sa.Column("routing_key", sa.String(128), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("legacy_latency_us", sa.Float(), nullable=True),
        sa.Column("candidate_latency_us", sa.Float(), nullable=True),
        sa.Column("error_kind", sa.String(32), nullable=False),
        sa.Column("abs_difference", sa.Float(), nullable=True),
        sa.Column("rel_difference", sa.Float(), nullable=True),
        sa.Column("legacy_digest", sa.String(64), nullable=True),
        sa.Column("candidate_digest", sa.String(64), nullable=True),
        sa.Column("memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
    )
    op.create_index("ix_observations_component_at", "observations", ["component", "at"])
    op.create_table(
        "gate_requests",
        sa.Column("gate_key", sa.String(200), primary_key=True),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("component", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("allowed_approvers", sa.Text(), nullable=False),
        sa.Column("forbid_initiator", sa.Boolean(), nullable=False),
        sa.Column("initiator", sa.String(128), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("slack_channel", sa.String(64), nullable=True),
        sa.Column("slack_ts", sa.String(64), nullable=True),
    )
    op.create_index("ix_gate_requests_flow_run_id", "gate_requests", ["flow_run_id"])
    op.create_table(
        "gate_decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("flow_run_id", sa.String(64), nullable=False),
        sa.Column("gate_key", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("approver", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.UniqueConstraint("gate_key", name="uq_gate_decisions_gate_key"),
    )
    op.create_index("ix_gate_decisions_flow_run_id", "gate_decisions", ["flow_run_id"])
    op.create_table(
        "baselines",
        sa.Column("component", sa.String(64), primary_key=True),
        sa.Column("latency_p50_us", sa.Float(), nullable=False),
        sa.Column("latency_p99_us", sa.Float(), nullable=False),
        sa.Column("peak_memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("hedge_effectiveness", sa.Float(), nullable=True),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for table in ("baselines", "gate_decisions", "gate_requests", "observations", "audit_log"):
        op.drop_table(table)
    op.drop_table("component_state")
