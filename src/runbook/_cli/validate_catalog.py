"""``runbook validate`` on the firm's requests: sources, engines, a FAIL report when an engine
breaks a batch run, and the text summary (which names the data and both engines)."""

from __future__ import annotations

import argparse
from typing import Any


def sources_of(args: argparse.Namespace) -> Any:
    """The request sources the command line names."""
    from runbook.validation.catalog_validation import Sources

    return Sources(args.market_data, args.portfolios, args.requests)


def engines_config(args: argparse.Namespace, settings: Any, component: Any) -> dict[str, dict[str, str]]:
    """RUNBOOK_ENGINES with ``--legacy`` / ``--candidate`` applied to ``component``."""
    config = {name: dict(paths) for name, paths in (settings.engines or {}).items()}
    overrides = {k: v for k, v in (("legacy", args.legacy), ("candidate", args.candidate)) if v}
    config[component.value] = config.get(component.value, {}) | overrides
    return config


def run_requests_path(args: argparse.Namespace, settings: Any, component: Any) -> Any:
    """Validate through the single-request callables on the requests the arguments give."""
    from dataclasses import replace

    from runbook.domain.catalog import entry_of
    from runbook.engines.registry import load_pair
    from runbook.errors import BadParameter
    from runbook.validation.catalog_validation import pair_engines, validate_catalog_component

    entry = entry_of(component)
    engines = None
    if entry.bundled:
        pair = load_pair(component, engines_config=engines_config(args, settings, component),
                         fault=args.inject_fault)  # fmt: skip
        engines = pair_engines(pair)
    elif args.inject_fault:
        raise BadParameter(f"faults exist for the shipped candidates only, not for {entry.name}")
    elif args.legacy or args.candidate:
        legacy, candidate = args.legacy or entry.legacy, args.candidate or entry.candidate
        entry = replace(entry, legacy=legacy, candidate=candidate)
        from runbook.validation.catalog_validation import catalog_engines

        engines = catalog_engines(entry)
    mc = {} if args.monte_carlo is None else {"monte_carlo": args.monte_carlo}
    from runbook.quality.market_check import market_data_quality

    return validate_catalog_component(component, sources_of(args), count=args.historical, seed=args.seed,
                                      engines=engines, data_quality=market_data_quality, **mc)  # fmt: skip


def failed_report(component: str, pair: Any, exc: BaseException) -> Any:
    """A FAIL report for a batch validation an engine broke (raised or called sys.exit)."""
    from runbook.validation.report import Check, ValidationReport

    what = f"sys.exit({exc.code!r})" if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"
    check = Check("engine_errors", False, f"an engine of {pair.legacy_path} / {pair.candidate_path} "
                  f"stopped the batch validation: {what}")  # fmt: skip
    return ValidationReport(component=component, passed=False, checks=(check,), worst_scenarios=(),
                            conventions={}, summary={"historical_scenarios": 0, "monte_carlo_scenarios": 0,
                                                     "seconds": 0.0, "engines": pair.describe()},
                            engines=pair.describe())  # fmt: skip


def print_requests_summary(report: Any) -> None:
    """Verdict, data, engines, every check (skipped ones with their reason), worst requests."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    verdict = "[green]PASS[/green]" if report.passed else "[red]FAIL[/red]"
    summary = report.summary
    head = f"{summary['requests']} requests {summary['source']}, {summary['seconds']} s"
    console.print(f"{report.component}: {verdict}  ({head})", highlight=False)
    data = report.data or {}
    if data:
        span = f"{data['rows']} rows, {data['first_date']} to {data['last_date']}"
        span += f", sha256 {data['sha256'][:12]}"
        console.print(f"data: {data['path']} ({span})", highlight=False)
    calibration = data.get("monte_carlo")
    if calibration:
        console.print(
            f"monte carlo: {calibration['requests']} simulated {calibration['window_days']}-day windows, "
            f"mean and covariance of daily log returns of {', '.join(calibration['assets'])} on "
            f"{calibration['rows_used']} dates of {calibration['calibrated_on']} "
            f"({calibration['first_date']} to {calibration['last_date']}); gaps: rows dropped "
            f"({calibration['rows_dropped']} dates)",
            highlight=False,
        )
    for role, info in (report.engines or {}).items():
        console.print(f"{role}: {info['path']} (sha256 {(info.get('sha256') or '?')[:12]})", highlight=False)
    table = Table("check", "result", "detail")
    for check in report.checks:
        result = "pass" if check.passed else "[red]FAIL[/red]"
        result = "skipped" if check.numbers.get("skipped") else result
        table.add_row(check.name, result, check.detail)
    console.print(table)
    if report.worst_scenarios:
        worst = Table("request", "field", "legacy", "candidate", "rel diff", title="worst requests")
        for w in report.worst_scenarios[:5]:
            numbers = (f"{w.legacy:.10g}", f"{w.candidate:.10g}", f"{w.rel_difference:.3g}")
            worst.add_row(w.scenario_id, w.metric, *numbers)
        console.print(worst)
