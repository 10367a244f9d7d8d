"""The router's option checks and the names of its counters (``Router.stats()``)."""

from __future__ import annotations

import math

from runbook.errors import BadEngine, BadParameter

ISOLATIONS = ("thread", "inline", "process")  # Router(candidate_isolation=...)

__all__ = [
    "COUNTERS", "ISOLATIONS", "check_isolation", "check_options", "check_process_candidate",
    "check_processes", "check_verification",
]  # fmt: skip

# Every counter Router.stats() reports, present at 0 from the start:
#   calls_<mode>                   calls answered in each mode (failsafe ones excluded)
#   failsafe_legacy                calls sent to legacy because the state was older than max_staleness_s
#   answered_by_candidate          canary/full calls answered by the candidate
#   answered_by_legacy_first       candidate-routed calls answered by legacy because the router had not
#                                  yet seen a legacy answer to check the candidate's kind against
#   fallback_<error kind>          canary/full calls where new failed (exception, timeout,
#                                  invalid_result) and old answered: the calculation errors
#   fallback_skipped               canary/full calls answered by old because every candidate
#                                  thread was taken (new not run; not a calculation error)
#   fallback_circuit_open          canary/full calls answered by old while the breaker is open
#   breaker_opened, breaker_closed the circuit breaker's transitions
#   candidate_abandoned_threads    candidate threads left behind by a sync candidate past its budget
#   candidate_worker_<event>       process isolation: workers started (starts, start_failures), lost
#                                  (deaths: crashed or exited; killed: past the deadline; recycled:
#                                  past the memory cap), each replaced
#   candidate_serialize_errors     requests or answers that could not cross to or from a worker
#   shadow_skipped                 process isolation: shadow calls not run, no worker free within the budget
#   shadow_<outcome>               shadow calls judged: ok, mismatch, exception, timeout, invalid_result,
#                                  legacy_exception (old raised; new still ran), circuit_open, skipped_stuck
#   shadow_skipped_queue_full      shadow calls not run because the queue was full
#   shadow_abandoned_threads       workers left behind by a hanging job (replaced at once)
#   verify_<outcome>               served answers compared with old off the caller's path: ok, mismatch,
#                                  legacy_exception, timeout; not compared: sampled_out (verify_share),
#                                  skipped_queue_full, skipped_stuck
#   observations_dropped           observations the recorder refused (its queue was full)
#   record_errors, compare_errors, validate_errors, internal_errors: our own failures, contained
#   state_refreshes, state_refresh_errors: reads of the state source, good and failed
COUNTERS = (
    "calls_legacy", "calls_rolled_back", "calls_shadow", "calls_canary", "calls_full", "calls_retired",
    "failsafe_legacy", "answered_by_candidate", "answered_by_legacy_first",
    "fallback_exception", "fallback_timeout", "fallback_invalid_result", "fallback_skipped",
    "fallback_circuit_open", "breaker_opened", "breaker_closed",
    "candidate_worker_starts", "candidate_worker_start_failures", "candidate_worker_deaths",
    "candidate_worker_killed", "candidate_worker_recycled", "candidate_serialize_errors", "shadow_skipped",
    "candidate_abandoned_threads",
    "shadow_ok", "shadow_mismatch", "shadow_exception", "shadow_timeout", "shadow_invalid_result",
    "shadow_legacy_exception", "shadow_circuit_open", "shadow_skipped_stuck",
    "shadow_skipped_queue_full", "shadow_abandoned_threads",
    "verify_ok", "verify_mismatch", "verify_legacy_exception", "verify_timeout", "verify_sampled_out",
    "verify_skipped_queue_full", "verify_skipped_stuck",
    "observations_dropped", "record_errors", "compare_errors", "validate_errors",
    "state_refreshes", "state_refresh_errors", "internal_errors",
)  # fmt: skip


def check_options(
    legacy: object, candidate: object, timeout_s: float, workers: int, queue_size: int,
    refresh_interval_s: float, max_staleness_s: float, *, isolation: object = "thread",
) -> None:  # fmt: skip
    """Raise BadEngine or BadParameter naming the value when a Router option is unusable."""
    if isolation == "process":
        check_process_candidate(candidate)
    for name, fn in (("legacy", legacy), ("candidate", candidate)):
        if not callable(fn) and not (name == "candidate" and isolation == "process"):
            raise BadEngine(f"{name} must be callable (sync or async); got {type(fn).__name__}")
    if not timeout_s > 0 or not refresh_interval_s > 0 or not max_staleness_s > 0:
        raise BadParameter(
            f"shadow_timeout_s {timeout_s!r}, refresh_interval_s {refresh_interval_s!r} and "
            f"max_staleness_s {max_staleness_s!r} must all be > 0 seconds"
        )
    if workers < 1 or queue_size < 1:
        raise BadParameter(f"shadow_workers {workers!r} and shadow_queue {queue_size!r} must be >= 1")


def check_isolation(isolation: object, timeout_s: float, workers: int) -> None:
    """Raise BadParameter naming the value when a candidate isolation option is unusable."""
    if isolation not in ISOLATIONS:
        raise BadParameter(f"candidate_isolation {isolation!r} is not one of {', '.join(ISOLATIONS)}")
    if not timeout_s > 0:
        raise BadParameter(f"candidate_timeout_s {timeout_s!r} must be > 0 seconds")
    if workers < 1:
        raise BadParameter(f"candidate_workers {workers!r} must be >= 1")


def check_verification(
    verify_share: float, sample_share: float, rel_tolerance: float, abs_tolerance: float,
    breaker_failures: int, breaker_cool_down_s: float,
) -> None:  # fmt: skip
    """Raise BadParameter naming the value when a verification or breaker option is unusable."""
    for name, share in (("verify_share", verify_share), ("sample_share", sample_share)):
        if not 0.0 <= share <= 1.0:
            raise BadParameter(f"{name} {share!r} must lie in [0, 1]")
    for name, tolerance in (("rel_tolerance", rel_tolerance), ("abs_tolerance", abs_tolerance)):
        if not (math.isfinite(tolerance) and tolerance >= 0.0):
            raise BadParameter(f"{name} {tolerance!r} must be a finite number >= 0")
    if breaker_failures < 1 or not breaker_cool_down_s > 0:
        raise BadParameter(
            f"breaker_failures {breaker_failures!r} must be >= 1 and breaker_cool_down_s "
            f"{breaker_cool_down_s!r} > 0 seconds"
        )


def check_process_candidate(candidate: object) -> None:
    """Process isolation: the candidate is ``"module:attribute"`` or a callable the workers can unpickle."""
    if isinstance(candidate, str):
        module, colon, attribute = candidate.partition(":")
        if not (colon and module.strip() and attribute.strip()):
            raise BadEngine(f"candidate {candidate!r} must be an import path 'package.module:attribute'")
        return
    if not callable(candidate):
        raise BadEngine(f"candidate must be callable or 'module:attribute'; got {type(candidate).__name__}")
    import pickle

    try:
        pickle.dumps(candidate, protocol=5)
    except Exception as exc:  # whatever pickling raises, the candidate cannot travel
        raise BadEngine(
            f"candidate {candidate!r} cannot be sent to a worker process ({type(exc).__name__}); with "
            "candidate_isolation='process' give a module-level callable or 'module:attribute'"
        ) from exc


def check_processes(processes: int, memory_cap_bytes: int | None, memory_every: int) -> None:
    """Raise BadParameter naming the value when a process-isolation option is unusable."""
    if processes < 1:
        raise BadParameter(f"candidate_processes {processes!r} must be >= 1")
    if memory_every < 1:
        raise BadParameter(f"candidate_memory_every {memory_every!r} must be >= 1")
    if memory_cap_bytes is not None and memory_cap_bytes < 1 << 20:
        raise BadParameter(f"candidate_memory_cap_bytes {memory_cap_bytes!r} must be None or >= 1 MiB")
