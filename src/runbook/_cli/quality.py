"""``runbook check-data SUITE PATH``: run one data-quality suite on a CSV or Parquet file.

Exit 0 when the suite passes (warnings allowed), 1 when the data broke a critical expectation,
2 for bad input: an unreadable file, a missing column, a bad suite file, or an expectation that
could not be evaluated on this data.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runbook.quality import ExpectationFailure, QualityResult, Suite
    from runbook.settings import Settings

# Kept literal so registering the command imports neither pandas nor GX; a test checks it is SUITES.
BUNDLED_SUITES = (
    "market_history", "market_prices", "scenarios", "engine_outputs", "shadow_comparisons", "canary_window",
)
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check-data",
        help="run a data-quality suite on a CSV or Parquet file",
        description="Run one Great Expectations suite on a CSV or Parquet file. Exit 0 pass, "
        "1 fail, 2 bad input or bad suite file.",
    )
    parser.add_argument("suite", metavar="SUITE",
                        help=f"bundled suite: {', '.join(BUNDLED_SUITES)} (or a path to a suite .json)")
    parser.add_argument("path", metavar="PATH", type=Path, help="data file (.csv, .parquet)")
    parser.add_argument("--suite-file", metavar="FILE", type=Path,
                        help="load SUITE from this JSON file instead of the bundled one "
                        "(the file's name must be SUITE)")
    parser.add_argument("--date-column", metavar="NAME",
                        help="market_prices: the column holding dates; every other column is one "
                        "asset's prices (default: the catalog's [data] date_column, else date)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--no-docs", action="store_true", help="do not write Data Docs")
    parser.set_defaults(handler=check_data)


def check_data(args: argparse.Namespace, settings: Settings) -> int:
    from runbook.quality import QualityStatus, RunNames, run_suite
    from runbook.quality.frames import read_frame
    from runbook.reports.links import evidence_url

    suite = _suite(args)
    frame = read_frame(args.path)
    names = RunNames(run=f"runbook check-data {suite.name}", data_asset=str(args.path))
    result = run_suite(suite, frame, data_docs_dir=None if args.no_docs else settings.data_docs_dir,
                       date_column=args.date_column or _catalog_date_column(), names=names)
    docs_url = evidence_url(result.data_docs, home=settings.home, base_url=settings.reports_url)
    print(json.dumps(result.to_dict(), indent=2) if args.json else render_text(result, docs_url=docs_url))
    if result.status is QualityStatus.ERRORED:
        print(f"runbook: error: {len(result.errors)} expectation(s) of suite {result.suite!r} could not be "
              f"evaluated on {args.path}: {result.errors[0].message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK if result.passed else EXIT_FAILED


def _catalog_date_column() -> str:
    from runbook.domain.catalog import current_catalog

    return current_catalog().date_column


def _suite(args: argparse.Namespace) -> Suite:
    from runbook.errors import BadSuite
    from runbook.quality import load_suite

    if args.suite_file is None:
        return load_suite(args.suite)
    suite = load_suite(args.suite_file)
    if suite.name != args.suite:
        raise BadSuite(f"{args.suite_file} defines suite {suite.name!r}, not {args.suite!r}")
    return suite


def render_text(result: QualityResult, *, docs_url: str | None = None) -> str:
    """Plain lines for a terminal: the summary, then each finding with its reason and sample rows,
    then the Data Docs page (its URL on the report server when it has one)."""
    lines = [result.summary()]
    for finding in (*result.failures, *result.warnings):
        label = "FAILED" if finding.severity == "critical" else finding.severity.upper()
        lines += _finding_lines(label, finding)
    lines += [f"ERROR    {e.expectation_type} on {e.column}: {e.message}" for e in result.errors]
    if docs_url:
        lines.append(f"Data Docs: {docs_url} (served by `runbook up`; file {result.data_docs})")
    elif result.data_docs:
        lines.append(f"Data Docs: {result.data_docs}")
    return "\n".join(lines)


def _finding_lines(label: str, finding: ExpectationFailure) -> list[str]:
    lines = [f"{label:<8} {finding.describe()}"]
    if finding.why:
        lines.append(f"         why: {finding.why}")
    for row in finding.sample_rows:
        lines.append("         row: " + " ".join(f"{key}={value}" for key, value in row.items()))
    return lines
