"""Pure parts of the control plane: URL mapping, audit hashing, baseline values, migration head."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runbook.control.audit import GENESIS_HASH, canonical_evidence, row_digest
from runbook.control.baselines import Baseline
from runbook.control.store import HEAD_REVISION, MIGRATIONS_DIR, normalize_url
from runbook.errors import BadParameter

ROW = {
    "at": datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
    "component": "var_engine",
    "action": "enable_canary_deployment",
    "actor": "alice",
    "from_mode": "shadow",
    "to_mode": "canary",
    "from_fraction": 0.0,
    "to_fraction": 0.05,
    "epoch": 2,
    "reason": "week 8",
    "evidence": canonical_evidence({"p99_rel": 1e-7}),
}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db:5432/rb", "postgresql+psycopg://u:p@db:5432/rb"),
        ("postgres://u@db/rb", "postgresql+psycopg://u@db/rb"),
        ("postgresql+psycopg://u@db/rb", "postgresql+psycopg://u@db/rb"),
        ("sqlite:////tmp/x/runbook.db", "sqlite:////tmp/x/runbook.db"),
    ],
)
def test_normalize_url_maps_postgres_to_psycopg(url: str, expected: str) -> None:
    """Plain PostgreSQL URLs use the psycopg 3 driver; other URLs pass through unchanged."""
    assert normalize_url(url) == expected


def test_row_digest_is_sha256_hex_and_deterministic() -> None:
    """The same content and previous hash always give the same 64-hex-digit digest."""
    digest = row_digest(ROW, GENESIS_HASH)
    assert digest == row_digest(dict(ROW), GENESIS_HASH)
    assert len(digest) == 64
    int(digest, 16)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("component", "hedge_calculator"),
        ("action", "promote"),
        ("actor", "mallory"),
        ("to_mode", "full"),
        ("to_fraction", 0.5),
        ("epoch", 3),
        ("reason", "week 9"),
        ("evidence", canonical_evidence({"p99_rel": 2e-7})),
        ("at", datetime(2025, 3, 4, 5, 6, 7, 891012, tzinfo=UTC)),
    ],
)
def test_row_digest_changes_with_every_field(field: str, value: object) -> None:
    """Changing any stored field, even by one microsecond, changes the row hash."""
    assert row_digest({**ROW, field: value}, GENESIS_HASH) != row_digest(ROW, GENESIS_HASH)


def test_row_digest_depends_on_previous_hash() -> None:
    """The digest chains: a different previous hash gives a different digest."""
    assert row_digest(ROW, GENESIS_HASH) != row_digest(ROW, "f" * 64)


def test_row_digest_treats_naive_timestamps_as_utc() -> None:
    """SQLite returns naive UTC timestamps; they hash like the aware value that was written."""
    naive = {**ROW, "at": ROW["at"].replace(tzinfo=None)}
    assert row_digest(naive, GENESIS_HASH) == row_digest(ROW, GENESIS_HASH)


def test_canonical_evidence_ignores_key_order() -> None:
    """Evidence is stored as sorted compact JSON, so key order cannot change a hash."""
    assert canonical_evidence({"b": 1, "a": [1, 2]}) == canonical_evidence({"a": [1, 2], "b": 1})
    assert canonical_evidence(None) == "{}"


def test_head_revision_matches_migration_scripts() -> None:
    """The cheap head check uses the same revision Alembic considers the head."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"latency_p50_us": -1.0},
        {"latency_p50_us": float("nan")},
        {"latency_p99_us": 5.0},
        {"peak_memory_bytes": -1},
        {"hedge_effectiveness": 1.5},
    ],
)
def test_baseline_rejects_impossible_values(kwargs: dict[str, float]) -> None:
    """Negative or NaN latencies, p99 below p50, negative memory and HE above 1 are refused."""
    values = {"latency_p50_us": 10.0, "latency_p99_us": 40.0, "peak_memory_bytes": 1000, **kwargs}
    with pytest.raises(BadParameter):
        Baseline(**values)
