"""Backtest two VaR engines' single-request callables on the firm's market data.

Rolling 250-day windows, 1-day 99% VaR for one book (the portfolios file's first, else the
equal-weight book), exceptions against the next day's realised loss: Kupiec, Christoffersen and
the Basel traffic light over the last 250 days; the candidate's zone may not be worse.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from runbook.engines.callables import EngineCallable
from runbook.validation.backtests import backtest
from runbook.validation.report import Check

CONFIDENCE = 0.99


def backtest_check(
    history: Any, sources: Any, legacy: EngineCallable, candidate: EngineCallable, *, data_path: str | None
) -> Check:
    """The backtest check, naming the data file it ran on."""
    from runbook.scenarios.generated import backtest_requests
    from runbook.scenarios.user_data import load_portfolios

    books = load_portfolios(sources.portfolios, history.assets)
    book = next((b for b in books if b.portfolio_id == "equal-weight"), books[0])
    requests, realised, dates = backtest_requests(history, book, confidence=CONFIDENCE)
    where = data_path or "the bundled market history"
    var: dict[str, np.ndarray] = {}
    for role, engine in (("legacy", legacy), ("candidate", candidate)):
        values = []
        for request in requests:
            try:
                values.append(float(_var_of(engine.call(request.kwargs))))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - an engine failing the backtest is a FAIL naming it
                detail = (f"{role} engine {engine.path!r} raised {type(exc).__name__}: {exc} on backtest "
                          f"request {request.request_id} ({where})")  # fmt: skip
                return Check("backtest_traffic_light", False, detail, {"data": where})
        var[role] = np.array(values)
    old = backtest(realised, var["legacy"], confidence=CONFIDENCE)
    new = backtest(realised, var["candidate"], confidence=CONFIDENCE)
    zone_old, zone_new = old.traffic_light.zone, new.traffic_light.zone
    kupiec = f"Kupiec p {old.kupiec.p_value:.3g} -> {new.kupiec.p_value:.3g}"
    detail = (f"{book.portfolio_id} 1-day {CONFIDENCE:.0%} VaR on {old.observations} days of {where} "
              f"({dates[0]} to {dates[-1]}): exceptions {old.exceptions} -> {new.exceptions}; zone (last 250 "
              f"days) {zone_old} -> {zone_new}; {kupiec}")  # fmt: skip
    numbers = {"data": where, "portfolio_id": book.portfolio_id, "zone_legacy": zone_old.value,
               "zone_candidate": zone_new.value, "exceptions_legacy": old.exceptions,
               "exceptions_candidate": new.exceptions, "observations": old.observations,
               "legacy": old.to_dict(), "candidate": new.to_dict()}  # fmt: skip
    return Check("backtest_traffic_light", zone_new.rank <= zone_old.rank, detail, numbers)


def _var_of(result: Any) -> float:
    from runbook.validation.requests_run import flatten

    fields = flatten(result)
    if "var" not in fields:
        raise ValueError(f"result has no 'var' field (fields: {', '.join(sorted(fields))})")
    return float(fields["var"])
