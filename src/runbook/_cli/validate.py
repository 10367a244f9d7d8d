"""``runbook validate``: offline validation of a candidate engine against the legacy one (no Prefect).

Components are the catalog's (``--catalog``, ``RUNBOOK_CATALOG`` or ``./runbook.toml``; by default
the ADR's five). With ``--market-data``, ``--portfolios`` or ``--requests``, or for a component
the catalog adds, validation runs the single-request callables on those requests.

Exit codes: 0 every gating check passed, 1 a check failed (an engine raising or exiting during
validation included; the report is still written), 2 bad input (unknown component, engine that
cannot be imported, unreadable data, bad counts), 3 inconclusive (no check failed, but a
performance gate could not decide within its round budget: not a pass, a human decides with the
figures).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_INCONCLUSIVE = 0, 1, 3
BATCH_MONTE_CARLO = 100_000


def register(subparsers: Any) -> None:
    """Add the ``validate`` subcommand."""
    parser = subparsers.add_parser(
        "validate",
        help="validate a candidate engine against the legacy engine",
        description="Run both engines on historical and Monte Carlo scenarios and decide equivalence "
        "(tolerance, TOST, intersection-union, backtests, latency and memory limits).",
    )
    parser.add_argument(
        "component",
        nargs="?",
        help="a component of the catalog (by default market_data_provider, performance_analyzer, "
        "correlation_analyzer, var_engine or hedge_calculator)",
    )
    sources = (
        ("--catalog", "catalog file (default: RUNBOOK_CATALOG or ./runbook.toml)"),
        ("--market-data", "prices (CSV or Parquet): a date column and one price column per asset"),
        ("--portfolios", "positions (CSV with portfolio,asset,position, or JSON)"),
        ("--requests", "requests file (JSON Lines or Parquet, one request per row)"),
    )
    for flag, text in sources:
        parser.add_argument(flag, metavar="PATH", help=text)
    parser.add_argument("--historical", type=int, default=10_000, metavar="N", help="historical scenarios")
    parser.add_argument(
        "--monte-carlo", type=int, metavar="N",
        help="Monte Carlo scenarios (default 100000; on the single-request path, simulated windows "
        "calibrated on the market data, default 1000)",
    )  # fmt: skip
    parser.add_argument("--legacy", metavar="IMPORT_PATH", help="legacy engine as module:attribute")
    parser.add_argument("--candidate", metavar="IMPORT_PATH", help="candidate engine as module:attribute")
    parser.add_argument(
        "--inject-fault", metavar="NAME", help="validate a faulted candidate (see --list-faults)"
    )
    parser.add_argument("--report", metavar="DIR", help="write report.json and report.html into DIR")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument("--seed", type=int, default=0, help="scenario sampling and Monte Carlo seed")
    parser.add_argument(
        "--workers", type=int, metavar="N",
        help="run the engines on a local dask cluster of N worker processes (same numbers as one process)",
    )  # fmt: skip
    parser.add_argument(
        "--dask", metavar="ADDRESS", help="run the engines on the dask scheduler at ADDRESS "
        "(default RUNBOOK_DASK_ADDRESS)",
    )  # fmt: skip
    parser.add_argument(
        "--window",
        type=int,
        action="append",
        metavar="DAYS",
        help="estimation window of historical scenarios, repeatable (var_engine default: 250, 201, 501)",
    )
    parser.add_argument(
        "--list-faults", action="store_true", help="print COMPONENT FAULT_NAME pairs and exit"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, settings: Any) -> int:
    """Run the validation the arguments describe."""
    from runbook.errors import BadParameter

    if args.list_faults:
        from runbook.engines.faults import list_faults

        for component, fault in list_faults():
            print(f"{component} {fault}")
        return EXIT_OK
    if not args.component:
        raise BadParameter("give a COMPONENT to validate, or --list-faults")
    if args.historical < 1:
        raise BadParameter(f"--historical {args.historical} must be >= 1")
    if args.monte_carlo is not None and args.monte_carlo < 0:
        raise BadParameter(f"--monte-carlo {args.monte_carlo} must be >= 0")
    from runbook.domain.catalog import use_catalog

    with use_catalog(args.catalog) if args.catalog else _current():
        report = _run(args, settings)
    if args.report:
        paths = report.write(args.report)
        print(f"report: {paths['html']}", file=sys.stderr)
    if args.json:
        print(report.to_json())
    elif "requests" in report.summary:
        from runbook._cli.validate_catalog import print_requests_summary

        print_requests_summary(report)
    else:
        _print_summary(report)
    return exit_code(report.verdict)


def exit_code(verdict: str) -> int:
    """0 pass, 3 inconclusive, 1 anything else (a failure, or a verdict this code does not know)."""
    return {"pass": EXIT_OK, "inconclusive": EXIT_INCONCLUSIVE}.get(verdict, EXIT_FAILED)


def _current() -> Any:
    from contextlib import nullcontext

    return nullcontext()


def _run(args: argparse.Namespace, settings: Any) -> Any:
    from runbook._cli.validate_catalog import run_requests_path, sources_of
    from runbook.domain.catalog import entry_of
    from runbook.domain.components import parse_component

    component = parse_component(args.component)
    for name in settings.engines or {}:
        parse_component(name)  # RUNBOOK_ENGINES naming no catalog component is bad input
    if not entry_of(component).bundled or sources_of(args).given:
        return run_requests_path(args, settings, component)
    return _run_batch(args, settings, component)


def _run_batch(args: argparse.Namespace, settings: Any, component: Any) -> Any:
    from runbook._cli.validate_catalog import engines_config, failed_report
    from runbook.engines.registry import load_pair
    from runbook.errors import UserInputError

    config = engines_config(args, settings, component)
    pair = load_pair(component, engines_config=config, fault=args.inject_fault)
    windows = tuple(args.window) if args.window else None
    with _validator(args, settings, windows=windows) as validator, _Progress() as progress:
        try:
            return validator.validate_component(
                component,
                pair,
                historical=args.historical,
                monte_carlo=BATCH_MONTE_CARLO if args.monte_carlo is None else args.monte_carlo,
                seed=args.seed,
                progress=progress,
            )
        except (KeyboardInterrupt, UserInputError):
            raise  # bad input (e.g. a window longer than the data) stays exit 2
        except BaseException as exc:  # an engine raising or exiting mid-run is a FAIL, with a report  # noqa: BLE001 - an engine raising or exiting is a FAIL verdict, never a traceback
            return failed_report(component.value, pair, exc)


@contextmanager
def _validator(args: argparse.Namespace, settings: Any, **options: Any) -> Iterator[Any]:
    """In this process, or partitioned by book on dask (--dask / RUNBOOK_DASK_ADDRESS, --workers)."""
    from runbook.errors import BadParameter
    from runbook.validation import FinancialCalculationValidator

    address = args.dask or getattr(settings, "dask_address", None)
    if args.workers is not None and args.workers < 1:
        raise BadParameter(f"--workers {args.workers} must be >= 1")
    if not address and args.workers is None:
        yield FinancialCalculationValidator(**options)
        return
    from runbook.validation.distributed import PartitionedValidator, dask_runner

    with dask_runner(address=address, workers=args.workers) as runner:
        yield PartitionedValidator(runner, **options)


class _Progress:
    """A rich progress bar on stderr (silent when stderr is not a terminal)."""

    def __enter__(self) -> Any:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self._bar.__enter__()
        self._tasks: dict[str, Any] = {}
        return self.update

    def update(self, stage: str, done: float, total: float) -> None:
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(stage, total=max(total, 1))
        self._bar.update(self._tasks[stage], completed=done, total=max(total, 1))

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)  # type: ignore[arg-type]


def _print_summary(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    colour = {"pass": "green", "inconclusive": "yellow"}.get(report.verdict, "red")
    verdict = f"[{colour}]{report.verdict.upper()}[/{colour}]"
    summary = report.summary
    console.print(
        f"{report.component}: {verdict}  ({summary['historical_scenarios']} historical + "
        f"{summary['monte_carlo_scenarios']} Monte Carlo scenarios, {summary['seconds']} s)"
    )
    per_metric = [c for c in report.checks if c.name.startswith(("tolerance:", "equivalence_tost:"))]
    failed = [c for c in report.checks if c.gating and not c.passed]
    shown = failed[:12] + [c for c in report.checks if c.passed and c not in per_metric]
    table = Table("check", "result", "detail")
    for check in shown:
        result = "pass" if check.passed else f"[red]{check.outcome.upper()}[/red]"
        table.add_row(check.name, result, check.detail)
    console.print(table)
    if "distributed" in summary:
        from runbook.validation.distributed import describe_run

        console.print(describe_run(summary["distributed"]))
    passed_metric = sum(c.passed for c in per_metric)
    console.print(f"per-metric tolerance and TOST checks: {passed_metric} of {len(per_metric)} pass")
    if len(failed) > 12:
        console.print(f"... {len(failed) - 12} more failing checks in the JSON report")
    if not report.passed:
        worst = Table(
            "scenario", "portfolio", "metric", "legacy", "candidate", "rel diff", title="worst scenarios"
        )
        for w in report.worst_scenarios[:5]:
            worst.add_row(
                w.scenario_id,
                w.portfolio_id,
                w.metric,
                f"{w.legacy:.10g}",
                f"{w.candidate:.10g}",
                f"{w.rel_difference:.3g}",
            )
        console.print(worst)
