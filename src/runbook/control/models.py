"""SQLAlchemy 2.0 models of the state store. The schema itself is owned by Alembic migrations.

Tables: component_state, audit_log (append-only hash chain), observations (batched inserts; raw rows
kept for a retention window), observation_rollups (per minute, kept for good) and their watermark,
gate_requests (what a paused run is waiting for), gate_decisions (unique per gate key: first writer
wins), baselines (legacy latency / memory / hedge effectiveness per component), captured_requests
(requests kept for offline replay: canary/full mismatches and shadow samples).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from runbook.control._schema import AUDIT_TABLE, STATE_TABLE


class Base(DeclarativeBase):
    """Declarative base of every runbook table."""


class ComponentStateRow(Base):
    __tablename__ = STATE_TABLE

    component: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    traffic_fraction: Mapped[float] = mapped_column(Float, default=0.0)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")


class AuditRow(Base):
    __tablename__ = AUDIT_TABLE
    __table_args__ = (Index("ix_audit_log_component_id", "component", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    component: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(128))
    from_mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    from_fraction: Mapped[float | None] = mapped_column(Float, nullable=True)
    to_fraction: Mapped[float | None] = mapped_column(Float, nullable=True)
    epoch: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="{}")  # JSON text
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64), unique=True)


class ObservationRow(Base):
    __tablename__ = "observations"
    __table_args__ = (
        Index("ix_observations_component_at", "component", "at"),
        Index("ix_observations_at", "at"),  # prune: DELETE ... WHERE at < cutoff
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    component: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(16))
    routing_key: Mapped[str] = mapped_column(String(128))
    at: Mapped[float] = mapped_column(Float)  # Unix seconds
    legacy_latency_us: Mapped[float | None] = mapped_column(Float, nullable=True)
    candidate_latency_us: Mapped[float | None] = mapped_column(Float, nullable=True)
    error_kind: Mapped[str] = mapped_column(String(32), default="none")
    abs_difference: Mapped[float | None] = mapped_column(Float, nullable=True)
    rel_difference: Mapped[float | None] = mapped_column(Float, nullable=True)
    legacy_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    candidate_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    memory_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    epoch: Mapped[int] = mapped_column(Integer, default=0)


class GateRequestRow(Base):
    __tablename__ = "gate_requests"

    gate_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    flow_run_id: Mapped[str] = mapped_column(String(64), index=True)
    component: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text, default="")
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    required_approvals: Mapped[int] = mapped_column(Integer, default=1)
    allowed_approvers: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of user ids
    forbid_initiator: Mapped[bool] = mapped_column(Boolean, default=False)
    initiator: Mapped[str | None] = mapped_column(String(128), nullable=True)
    evidence: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    slack_channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    slack_ts: Mapped[str | None] = mapped_column(String(64), nullable=True)
    verified_only: Mapped[bool] = mapped_column(Boolean, default=False)  # unverified channels refused


class GateDecisionRow(Base):
    __tablename__ = "gate_decisions"
    __table_args__ = (UniqueConstraint("gate_key", name="uq_gate_decisions_gate_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str] = mapped_column(String(64), index=True)
    gate_key: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(16))
    approver: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SeenNonceRow(Base):
    """A signature or nonce already used: a second use is a replay (shared by every process)."""

    __tablename__ = "seen_nonces"

    nonce: Mapped[str] = mapped_column(String(200), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class VerifiedStartRow(Base):
    """A phase start proven by a verified channel, claimed once by the flow run it started."""

    __tablename__ = "verified_starts"

    ticket: Mapped[str] = mapped_column(String(64), primary_key=True)
    phase: Mapped[str] = mapped_column(String(32))
    component: Mapped[str] = mapped_column(String(64))
    principal: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    flow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PhaseLockRow(Base):
    """Which flow run holds a component's phase lock (so a lock left by a dead run can be reclaimed)."""

    __tablename__ = "phase_locks"

    component: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow_run_id: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str] = mapped_column(String(32))
    lease_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    renewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the holder's last heartbeat


class BaselineRow(Base):
    __tablename__ = "baselines"

    component: Mapped[str] = mapped_column(String(64), primary_key=True)
    latency_p50_us: Mapped[float] = mapped_column(Float)
    latency_p99_us: Mapped[float] = mapped_column(Float)
    peak_memory_bytes: Mapped[int] = mapped_column(BigInteger)
    hedge_effectiveness: Mapped[float | None] = mapped_column(Float, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text, default="")


class CapturedRequestRow(Base):
    """A request kept for offline replay (``runbook.domain.capture.CapturedRequest``)."""

    __tablename__ = "captured_requests"
    __table_args__ = (Index("ix_captured_requests_component_at", "component", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    component: Mapped[str] = mapped_column(String(64))
    routing_key: Mapped[str] = mapped_column(String(128))
    at: Mapped[float] = mapped_column(Float)  # Unix seconds
    reason: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)
    size: Mapped[int] = mapped_column(Integer, default=0)  # bytes of the serialized request
    detail: Mapped[str] = mapped_column(Text, default="")
    legacy_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    candidate_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    abs_difference: Mapped[float | None] = mapped_column(Float, nullable=True)
    rel_difference: Mapped[float | None] = mapped_column(Float, nullable=True)


class ObservationRollupRow(Base):
    """Per component, mode, epoch, route and minute: what the raw observations of that minute said.

    Kept for good (raw observations only for the retention window). Counts follow
    ``runbook.monitoring._health``; latencies are ``LatencySketch`` JSON (microseconds).
    """

    __tablename__ = "observation_rollups"

    component: Mapped[str] = mapped_column(String(64), primary_key=True)
    minute: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # Unix seconds // 60
    mode: Mapped[str] = mapped_column(String(16), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    route: Mapped[str] = mapped_column(String(16), primary_key=True)
    observations: Mapped[int] = mapped_column(BigInteger)
    candidate_calls: Mapped[int] = mapped_column(BigInteger)
    calculation_errors: Mapped[int] = mapped_column(BigInteger)
    skipped: Mapped[int] = mapped_column(BigInteger)
    comparisons: Mapped[int] = mapped_column(BigInteger)
    mismatches: Mapped[int] = mapped_column(BigInteger)
    errors_by_kind: Mapped[str] = mapped_column(Text, default="{}")  # JSON kind -> count
    max_rel_difference: Mapped[float | None] = mapped_column(Float, nullable=True)
    candidate_latency: Mapped[str] = mapped_column(Text, default="{}")  # LatencySketch JSON
    legacy_latency: Mapped[str] = mapped_column(Text, default="{}")
    peak_candidate_memory_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    peak_legacy_memory_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    first_at: Mapped[float] = mapped_column(Float)
    last_at: Mapped[float] = mapped_column(Float)


class RollupWatermarkRow(Base):
    """How far observations are rolled up: every raw row with ``at < rolled_until`` is in a rollup."""

    __tablename__ = "observation_rollup_watermark"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    rolled_until: Mapped[float] = mapped_column(Float)  # Unix seconds, on a minute boundary
