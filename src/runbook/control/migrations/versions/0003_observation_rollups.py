"""Observation rollups per component, mode, epoch, route and minute; an index on observations.at.

Raw observations are pruned after a retention window; the rollups are kept for good. The index on
``at`` alone keeps pruning (``DELETE ... WHERE at < cutoff``) a range scan on both databases.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COUNTS = (
    "observations", "candidate_calls", "calculation_errors", "skipped", "comparisons", "mismatches",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "observation_rollups",
        sa.Column("component", sa.String(64), primary_key=True),
        sa.Column("minute", sa.BigInteger(), primary_key=True),
        sa.Column("mode", sa.String(16), primary_key=True),
        sa.Column("epoch", sa.Integer(), primary_key=True),
        sa.Column("route", sa.String(16), primary_key=True),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _COUNTS),
        sa.Column("errors_by_kind", sa.Text(), nullable=False),
        sa.Column("max_rel_difference", sa.Float(), nullable=True),
        sa.Column("candidate_latency", sa.Text(), nullable=False),
        sa.Column("legacy_latency", sa.Text(), nullable=False),
        sa.Column("peak_candidate_memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("peak_legacy_memory_bytes", sa.BigInteger(), nullable=False),
        sa.Column("first_at", sa.Float(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "observation_rollup_watermark",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("rolled_until", sa.Float(), nullable=False),
    )
    op.create_index("ix_observations_at", "observations", ["at"])


def downgrade() -> None:
    op.drop_index("ix_observations_at", table_name="observations")
    op.drop_table("observation_rollup_watermark")
    op.drop_table("observation_rollups")
