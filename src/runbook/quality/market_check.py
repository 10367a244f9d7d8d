"""The market data a validation runs on, checked by the ``market_prices`` suite built for its columns.

The validation ring never imports Great Expectations: the CLI and the flows hand
``market_data_quality`` to ``validate_catalog_component`` as its ``data_quality`` check.

Great Expectations runs the suite on the very file the requests and the backtest come from (the
bundled history when none is named): a date column (the catalog's ``date_column``) and one price
column per asset, each asset's expectations built from the file's column list. A failed critical
expectation fails the validation; warnings are reported.
"""

from __future__ import annotations

from runbook.validation.report import Check

SUITE = "market_prices"


def market_data_quality(path: str | None, date_column: str = "date") -> Check:
    """The ``data_quality:market_prices`` check of the price file at ``path`` (None: the bundled one)."""
    from runbook.quality import run_suite
    from runbook.quality.frames import read_frame
    from runbook.scenarios.loader import bundled_path

    file, column = (str(bundled_path()), "date") if path is None else (path, date_column)
    result = run_suite(SUITE, read_frame(file), date_column=column)
    failed = [f.describe() for f in result.failures]
    errored = [f"{e.expectation_type} on {e.column}: {e.message}" for e in result.errors]
    warnings = [f.describe() for f in result.warnings]
    problems = [*failed, *errored, *warnings]
    detail = f"{result.summary()} on {file}" + (f"; {problems[0]}" if problems else "")
    numbers = {"suite": SUITE, "path": file, "date_column": column, "rows": result.row_count,
               "expectations": result.evaluated, "failed": failed, "errored": errored, "warnings": warnings}
    return Check(f"data_quality:{SUITE}", result.passed, detail, numbers)
