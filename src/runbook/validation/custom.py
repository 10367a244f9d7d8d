"""Scenario sets from caller-supplied requests (the ADR's ``test_scenarios: List[Dict]``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from runbook.domain.components import Component
from runbook.engines.batches import VaRBatch
from runbook.engines.hedging import batch_of_one
from runbook.engines.requests import HedgeRequest, OptionBook, VaRRequest
from runbook.errors import BadInputData
from runbook.scenarios.sets import HISTORICAL, ScenarioSet, constant


def _stack(name: str, arrays: list[np.ndarray]) -> np.ndarray:
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise BadInputData(
            f"mismatched shapes: every scenario's {name} must have the same shape, got {sorted(shapes)}"
        )
    return np.stack(arrays)


def _portfolios(items: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, ...], np.ndarray]:
    labels = [str(item.get("portfolio_id", "custom")) for item in items]
    ids = tuple(dict.fromkeys(labels))
    return ids, np.array([ids.index(label) for label in labels], dtype=np.intp)


def _fields(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in {"portfolio_id", "as_of"}}


def scenario_set_from_requests(component: Component, items: Sequence[Mapping[str, Any]]) -> ScenarioSet:
    """A historical ScenarioSet from dicts of request fields (plus optional ``portfolio_id``, ``as_of``)."""
    if not items:
        raise BadInputData("no test scenarios given; an empty scenario list cannot be validated")
    ids, index = _portfolios(items)
    as_of = np.array([np.datetime64(item.get("as_of", "NaT"), "D") for item in items])
    n = len(items)
    if component is Component.VAR_ENGINE:
        requests = [VaRRequest(**_fields(item)) for item in items]
        batch: Any = VaRBatch(
            _stack("returns", [r.returns for r in requests]),
            _stack("weights", [r.weights for r in requests]),
            np.array([r.notional for r in requests]),
            np.array([r.confidence for r in requests]),
            np.array([float(r.horizon_days) for r in requests]),
        )
        return ScenarioSet(
            HISTORICAL,
            ids,
            index,
            as_of,
            constant(batch.weights.shape[1], n, np.int64),
            constant(batch.returns.shape[1], n, np.int64),
            batch.weights.sum(axis=1),
            batch.notional,
            batch,
        )
    if component is Component.HEDGE_CALCULATOR:
        ones = [batch_of_one(HedgeRequest(**_hedge_fields(item))) for item in items]
        arrays = {
            name: _stack(name, [getattr(b, name)[0] for b in ones]) for name in ones[0].__dataclass_fields__
        }
        batch = type(ones[0])(**arrays)
        return ScenarioSet(
            HISTORICAL,
            ids,
            index,
            as_of,
            constant(2, n, np.int64),
            constant(batch.spot_returns.shape[1], n, np.int64),
            constant(1.0, n),
            batch.exposure,
            batch,
        )
    raise BadInputData(
        f"custom scenarios are supported for var_engine and hedge_calculator, not {component.value}"
    )


def _hedge_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    fields = _fields(item)
    if isinstance(fields.get("book"), Mapping):
        fields["book"] = OptionBook(**fields["book"])
    return fields
