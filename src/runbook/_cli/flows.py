"""``runbook approve | reject | resume | gates | up | run (start) | demo``: flows from the command line.

Light at import: Prefect, the flows and rich load inside the handlers that need them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runbook._cli import os_user as _os_user

if TYPE_CHECKING:
    from runbook.settings import Settings

COMPONENTS = ("market_data_provider", "performance_analyzer", "correlation_analyzer", "var_engine",
              "hedge_calculator")
WITHOUT_COMPONENT = ("nightly_validation", "auto_rollback_monitor", "migrate", "readiness")
PHASES = ("readiness", "shadow", "canary", "critical", "cleanup", "migrate", "nightly_validation",
          "auto_rollback_monitor", "emergency_rollback")


def register(subparsers: Any) -> None:
    """Add the flow commands to the ``runbook`` parser."""
    for name, verb in (("approve", "approve"), ("reject", "reject")):
        parser = subparsers.add_parser(name, help=f"{verb} a paused run's gate (same path as Slack, the UI)")
        parser.add_argument("run_id", metavar="RUN_ID", help="the paused flow run's id")
        parser.add_argument("--gate", required=True, metavar="KEY", help="the gate key (see `runbook gates`)")
        parser.add_argument("--as", dest="approver", default=_os_user(),
                            help="who decides, typed (default: the OS user; counts on standard gates only)")
        parser.add_argument("--sign-with", metavar="KEY", type=Path,
                            help="your SSH private key: the decision is signed and verified against "
                                 "RUNBOOK_ALLOWED_SIGNERS (required on critical gates)")
        parser.add_argument("--comment", default="", help="why (kept with the decision)")
        parser.set_defaults(handler=_decide, decision=verb)

    resume = subparsers.add_parser("resume", help="deliver a recorded decision to its paused run again")
    resume.add_argument("run_id", metavar="RUN_ID", help="the paused flow run's id")
    resume.add_argument("--gate", required=True, metavar="KEY", help="the gate key (see `runbook gates`)")
    resume.set_defaults(handler=_resume)

    gates = subparsers.add_parser("gates", help="list the gates paused runs are waiting on")
    gates.add_argument("--run", metavar="RUN_ID", help="only this run's")
    gates.set_defaults(handler=_gates)

    up = subparsers.add_parser("up", help="start a Prefect server if none answers; serve the deployments")
    up.add_argument("--api-url", help="Prefect API URL (default: PREFECT_API_URL, else http://127.0.0.1:4200/api)")
    up.set_defaults(handler=_up)

    run = subparsers.add_parser("run", aliases=["start"],
                                help="run one phase flow here and now (no deployment needed)")
    run.add_argument("phase", choices=PHASES)
    run.add_argument("--component", default=None,
                     help="the component (emergency_rollback also takes all_components)")
    run.add_argument("--as", dest="initiator", default=_os_user(),
                     help="who starts the run, typed (default: the OS user)")
    run.add_argument("--sign-with", metavar="KEY", type=Path,
                     help="your SSH private key: a verified start (required for critical components)")
    run.set_defaults(handler=_run)

    demo = subparsers.add_parser("demo", help="the whole runbook on embedded defaults, in a few minutes")
    demo.add_argument("--component", default="all", metavar="NAME",
                      help=f"one component or all (default); one of: {', '.join(COMPONENTS)}")
    demo.add_argument("--auto-approve", action="store_true",
                      help="gates approved by demo approvers (two on critical gates), channel demo")
    demo.add_argument("--inject-fault", metavar="NAME",
                      help="a defective candidate the runbook must catch (`runbook validate --list-faults`); "
                           "with --component all, injected into the components that have it")
    demo.set_defaults(handler=_demo)



# ---- approve / reject / resume / gates ------------------------------------------------------
def _decide(args: argparse.Namespace, settings: Settings) -> int:
    from runbook.approvals import submit_decision, submit_signed_decision
    from runbook.control.store import Store
    from runbook.domain.gates import Channel
    from runbook.orchestration.resume import PrefectResumer

    if args.sign_with is not None:
        _require_allowed_signers(settings)
    with Store.from_settings(settings) as store:
        if args.sign_with is None:
            outcome = submit_decision(
                store, flow_run_id=args.run_id, gate_key=args.gate, decision=args.decision,
                approver=args.approver, channel=Channel.CLI, comment=args.comment, resumer=PrefectResumer(),
            )
        else:
            from runbook.signatures import decision_message, new_nonce, sign

            nonce, at = new_nonce(), int(time.time())
            text = decision_message(flow_run_id=args.run_id, gate_key=args.gate, decision=args.decision,
                                    nonce=nonce, at=at)
            outcome = submit_signed_decision(
                store, sign(text, key=args.sign_with, nonce=nonce, at=at), flow_run_id=args.run_id,
                gate_key=args.gate, decision=args.decision, comment=args.comment,
                allowed_signers=settings.allowed_signers, resumer=PrefectResumer(),
            )
    return _report(outcome)


def _report(outcome: Any) -> int:
    """0 once the run has the decision (or had it); 1 when it is recorded but not delivered yet."""
    if outcome.resume_failed:
        print(outcome.message, file=sys.stderr)
        return 1
    print(outcome.message)
    return 0


def _resume(args: argparse.Namespace, settings: Settings) -> int:
    from runbook.approvals import resume_decided
    from runbook.control.store import Store
    from runbook.orchestration.resume import PrefectResumer

    with Store.from_settings(settings) as store:
        outcome = resume_decided(store, flow_run_id=args.run_id, gate_key=args.gate, resumer=PrefectResumer())
    return _report(outcome)


def _gates(args: argparse.Namespace, settings: Settings) -> int:
    from runbook.control.gates import GateStore
    from runbook.control.store import Store
    from runbook.orchestration.pending import pending_gates

    with Store.from_settings(settings) as store:
        gates = pending_gates(store, flow_run_id=args.run)
        undelivered = GateStore(store).not_resumed(flow_run_id=args.run)
        statuses = {r.gate_key: GateStore(store).request(r.gate_key) for r in undelivered}
    undelivered = [r for r in undelivered
                   if (req := statuses.get(r.gate_key)) is not None and req.status.value != "timed_out"]
    if not gates and not undelivered:
        print("no gate is waiting")
        return 0
    for gate in gates:
        request = gate.request
        expires = request.expires_at.isoformat(timespec="seconds") if request.expires_at else "never"
        identity = ", verified identity only" if request.policy.verified_only else ""
        print(f"{request.title}  [{request.component}, {request.phase}, run {gate.run_name}, "
              f"times out {expires}{identity}]")
        sign = " --sign-with ~/.ssh/id_ed25519" if request.policy.verified_only else " --as <you>"
        print(f"  runbook approve {request.flow_run_id} --gate {request.gate_key}{sign}")
    for record in undelivered:
        print(f"decided, not resumed: {record.decision.value} by {record.approver} on {record.gate_key}")
        print(f"  runbook resume {record.flow_run_id} --gate {record.gate_key}")
    return 0


# ---- up / run ---------------------------------------------------------------------------------
def _up(args: argparse.Namespace, settings: Settings) -> int:
    from runbook._cli.server import ensure_server

    server = ensure_server(settings.home, api_url=args.api_url)
    origin = f"started (pid {server.pid}, log {server.log})" if server.started else "already running"
    print(f"Prefect server {origin}: UI at {server.ui_url}")
    print(other_shells_line(server.api_url))
    reports = _serve_reports(settings)
    try:
        _serve(server.ui_url)
    finally:
        if reports is not None:
            reports.stop()
        if server.started and server.pid:
            _stop(server.pid)
    return 0


def other_shells_line(api_url: str) -> str:
    """What `runbook up` tells other shells to set, so Prefect's and runbook's commands reach it."""
    return (f"in other shells: export PREFECT_API_URL={api_url} (so `prefect deployment run`, "
            "`runbook gates` and `runbook approve` use this server)")


def _serve_reports(settings: Settings) -> Any:
    """The report server at RUNBOOK_REPORTS_URL (links in the UI, Slack and the CLI point there)."""
    from runbook.reports.server import start_report_server

    try:
        reports = start_report_server(settings.home, base_url=settings.reports_url)
    except OSError as exc:  # taken: most often another `runbook up` serving the same reports
        print(f"reports: {settings.reports_url} not served by this process ({exc.strerror or exc}); "
              "links point there")
        return None
    print(f"reports and Data Docs at {reports.url}/ (from {settings.home.resolve()})")
    return reports


def _serve(ui_url: str) -> None:
    import httpx
    from prefect import serve

    from runbook.errors import OrchestratorUnavailable
    from runbook.orchestration.deployments import build_deployments, find_project_file, read_specs
    from runbook.orchestration.locks import ensure_phase_limits

    try:
        names = ensure_phase_limits()
        print(f"concurrency limits: {', '.join(names)} (1 slot each)")
        deployments = build_deployments(read_specs(find_project_file()))
        # pause_on_shutdown=False: the nightly and monitor schedules stay on when this process stops.
        serve(*deployments, pause_on_shutdown=False)
    except httpx.TransportError as exc:
        raise OrchestratorUnavailable(
            f"the Prefect server behind {ui_url} stopped answering ({type(exc).__name__}: {exc}); "
            "run `runbook up` again"
        ) from None


def _stop(pid: int) -> None:
    import os
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from runbook._cli.demo_output import hide_stop_tracebacks
    from runbook._cli.runs import run_phase

    _check_run_component(args.phase, args.component)
    ticket = _signed_start(args, settings) if args.sign_with is not None else None
    with hide_stop_tracebacks():
        state = run_phase(args.phase, component=args.component, initiator=args.initiator, start_ticket=ticket)
    if state.is_completed():
        print(f"{args.phase}: {state.type.value}")
        return 0
    stop = _recorded_stop(settings, args.component, str(state.state_details.flow_run_id or ""))
    if stop is not None:  # the runbook stopped the phase on purpose: an outcome, not a crash
        print(f"{args.phase}: {args.component} {stop['status']} by {stop.get('check')}: {stop.get('reason')}")
        return 3
    print(f"{args.phase}: {state.type.value} {state.message or ''}".rstrip()
          + f" (details: the Prefect run log of flow run {state.state_details.flow_run_id})", file=sys.stderr)
    return 1


def _signed_start(args: argparse.Namespace, settings: Settings) -> str:
    """A verified start ticket for this phase and component, signed with ``--sign-with``."""
    from runbook.control.store import Store
    from runbook.errors import BadParameter
    from runbook.initiators import signed_start
    from runbook.signatures import new_nonce, sign, start_message

    if args.component is None:
        raise BadParameter("--sign-with starts one component's phase: give --component")
    _require_allowed_signers(settings)
    nonce, at = new_nonce(), int(time.time())
    text = start_message(phase=args.phase, component=args.component, nonce=nonce, at=at)
    signed = sign(text, key=args.sign_with, nonce=nonce, at=at)
    with Store.from_settings(settings) as store:
        return signed_start(store, signed, phase=args.phase, component=args.component,
                            allowed_signers=settings.allowed_signers)


def _require_allowed_signers(settings: Settings) -> None:
    """BadSetting (exit 2, nothing signed or recorded) without an allowed-signers file for ``--sign-with``."""
    from runbook.errors import BadSetting

    signers = settings.allowed_signers
    if signers is None or not signers.is_file():
        found = "is unset" if signers is None else f"names {str(signers)!r}, which is not a file"
        raise BadSetting(f"--sign-with needs RUNBOOK_ALLOWED_SIGNERS, an ssh-keygen allowed-signers file "
                         f"('alice@firm ssh-ed25519 AAAA...' per line); it {found}")


def _check_run_component(phase: str, component: str | None) -> None:
    """BadParameter (exit 2, before anything starts) for a component ``phase`` does not take."""
    from runbook.domain.catalog import component_names
    from runbook.domain.components import ALL_COMPONENTS_ALIAS, parse_component
    from runbook.domain.plans import Phase, check_phase_component
    from runbook.errors import BadParameter

    if phase in ("nightly_validation", "auto_rollback_monitor"):
        if component is not None:
            raise BadParameter(f"the {phase} flow covers every component; it takes no --component")
        return
    if component is None:
        if phase not in WITHOUT_COMPONENT:
            known = ", ".join(component_names())
            raise BadParameter(f"the {phase} phase needs --component (one of: {known})")
        return
    extra = {"readiness": ("all",), "migrate": ("all",), "emergency_rollback": (ALL_COMPONENTS_ALIAS,)}
    allowed = (*component_names(), *extra.get(phase, ()))
    if component not in allowed:
        raise BadParameter(f"unknown component {component!r} for {phase}; allowed: {', '.join(allowed)}")
    if phase in ("canary", "critical"):
        check_phase_component(Phase(phase), parse_component(component))


def _recorded_stop(settings: Settings, component: str | None, flow_run_id: str) -> dict[str, Any] | None:
    """The phase's recorded outcome when the runbook held or rolled the component back, else None."""
    from runbook.domain.catalog import component_names

    if component not in component_names() or not flow_run_id:
        return None
    from runbook.control.outcomes import phase_outcome
    from runbook.control.store import Store

    with Store.from_settings(settings) as store:
        outcome = phase_outcome(store, component, flow_run_id)
    return outcome if outcome["status"] in ("held", "rolled_back") else None


# ---- demo -------------------------------------------------------------------------------------
def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from runbook._cli.demo import DemoOptions, demo_faults, demo_settings, prefect_for_demo
    from runbook._cli.demo_output import prepare_console, print_summary, quiet_prefect_console

    faults = demo_faults(args.component, args.inject_fault)  # bad input fails here, before anything starts
    options = DemoOptions(components=args.component, auto_approve=args.auto_approve,
                          inject_fault=args.inject_fault)
    local = demo_settings(settings)
    # Before Prefect loads, for this process's whole life: also quiets the temporary server's
    # "stopping" message, which Prefect logs from an exit hook after the demo has ended.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with quiet_prefect_console(), prefect_for_demo(local.home) as prefect, _demo_reports(local) as reports:
        # Links in gate messages point at a UI that answers, else where `runbook up` will serve one;
        # links to reports at the demo's own report server while it runs.
        local = local.model_copy(update={"prefect_ui_url": prefect.ui_url or "", "reports_url": reports})
        console = prepare_console(local, options, prefect=prefect, faults=faults)
        result = _run_demo(local, options, args)
        if result is None:
            return 1
        print_summary(console, result, prefect=prefect)
    return result.exit_code


@contextlib.contextmanager
def _demo_reports(local: Settings) -> Any:
    """The demo's reports served on a free local port while it runs (its home is its own); the base
    URL links use. Where no port can be had, the configured URL."""
    from runbook.reports.server import start_report_server

    try:
        server = start_report_server(local.home, base_url="http://127.0.0.1:0")
    except OSError:
        yield local.reports_url
        return
    try:
        yield server.url
    finally:
        server.stop()


def _run_demo(local: Settings, options: Any, args: argparse.Namespace) -> Any:
    """The demo's result; None after an unexpected error, told in one line with where its traceback is."""
    import traceback

    from runbook._cli.demo import run_demo
    from runbook.errors import RunbookError

    try:
        return run_demo(local, options, chooser=_chooser(args))
    except RunbookError:
        raise  # one line from the dispatcher, exit 1
    except Exception as exc:  # noqa: BLE001 - one line for any unexpected error, its traceback kept in a file
        local.home.mkdir(parents=True, exist_ok=True)
        path = local.home / "demo-error.txt"
        path.write_text(traceback.format_exc(), encoding="utf-8")
        print(f"runbook demo: unexpected error: {type(exc).__name__}: {exc}; traceback in {path}",
              file=sys.stderr)
        return None


def _chooser(args: argparse.Namespace) -> Any:
    from runbook.orchestration.approvers import approve_as_demo, ask_on_console

    if args.auto_approve:
        return approve_as_demo()
    if not sys.stdin.isatty():
        print("runbook demo: stdin is not a terminal: gate answers are read from it; once it ends, gates "
              "wait for `runbook approve` (or use --auto-approve)", file=sys.stderr)
    return ask_on_console(default_approver=_os_user())
