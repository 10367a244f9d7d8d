"""Legacy baselines per component: what the candidate's latency, memory and effectiveness are
compared with (AutoRollbackMonitor's ratios are candidate / baseline)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, delete, insert, select

from runbook.control._time import as_utc, utc_now
from runbook.control.models import BaselineRow
from runbook.domain.components import parse_component
from runbook.errors import BadParameter

if TYPE_CHECKING:
    from runbook.control.store import Store

__all__ = ["Baseline", "BaselineStore"]

_TABLE = cast(Table, BaselineRow.__table__)


@dataclass(frozen=True, slots=True)
class Baseline:
    """Legacy's measured behaviour.

    latency_p50_us / latency_p99_us: call latency percentiles in microseconds.
    peak_memory_bytes: peak memory of a call (or process under load) in bytes.
    hedge_effectiveness: variance reduction in [0, 1] for hedging components, else None.
    recorded_at: when measured (UTC); source: where the figures came from (run id, bench, file).
    """

    latency_p50_us: float
    latency_p99_us: float
    peak_memory_bytes: int
    hedge_effectiveness: float | None = None
    recorded_at: datetime = field(default_factory=utc_now)
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("latency_p50_us", "latency_p99_us"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise BadParameter(f"{name} {value!r} must be a finite number of microseconds >= 0")
        if self.latency_p99_us < self.latency_p50_us:
            raise BadParameter(
                f"latency_p99_us {self.latency_p99_us!r} is below latency_p50_us {self.latency_p50_us!r}"
            )
        if self.peak_memory_bytes < 0:
            raise BadParameter(f"peak_memory_bytes {self.peak_memory_bytes!r} must be >= 0")
        effectiveness = self.hedge_effectiveness
        if effectiveness is not None and not (math.isfinite(effectiveness) and effectiveness <= 1.0):
            raise BadParameter(f"hedge_effectiveness {effectiveness!r} must be a finite number <= 1")


class BaselineStore:
    """One baseline per component; recording again replaces the previous one."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def record(self, component: str, baseline: Baseline) -> None:
        """Store ``baseline`` as ``component``'s current baseline."""
        name = parse_component(str(component)).value
        row = {
            "component": name,
            "latency_p50_us": float(baseline.latency_p50_us),
            "latency_p99_us": float(baseline.latency_p99_us),
            "peak_memory_bytes": int(baseline.peak_memory_bytes),
            "hedge_effectiveness": baseline.hedge_effectiveness,
            "recorded_at": baseline.recorded_at,
            "source": baseline.source,
        }
        with self._store.write(exclusive=False) as conn:
            conn.execute(delete(_TABLE).where(_TABLE.c.component == name))
            conn.execute(insert(_TABLE).values(**row))

    def get(self, component: str) -> Baseline | None:
        """``component``'s baseline, or None when none was recorded."""
        name = parse_component(str(component)).value
        with self._store.read() as conn:
            row = conn.execute(select(_TABLE).where(_TABLE.c.component == name)).mappings().first()
        if row is None:
            return None
        return Baseline(
            latency_p50_us=row["latency_p50_us"],
            latency_p99_us=row["latency_p99_us"],
            peak_memory_bytes=int(row["peak_memory_bytes"]),
            hedge_effectiveness=row["hedge_effectiveness"],
            recorded_at=as_utc(row["recorded_at"]) or utc_now(),
            source=row["source"] or "",
        )

    def all(self) -> dict[str, Baseline]:
        """Every recorded baseline by component name."""
        with self._store.read() as conn:
            names = conn.execute(select(_TABLE.c.component)).scalars().all()
        return {name: baseline for name in names if (baseline := self.get(name)) is not None}
