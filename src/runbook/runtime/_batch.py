"""Shadow calls with process isolation: sent to the candidate's workers in batches, judged there.

The caller's thread only appends the shadow job to a ``Mailbox`` (a deque, no system call). One
pump thread per router takes turns, never per call: every 10 ms while there is work (every
millisecond while calls wait for a worker to finish its batch; backing off to 20 ms when idle).
Each turn it reads what its workers have answered (one non-blocking ``recv`` per worker), then
sends what arrived meanwhile to an idle worker as one message: the calls' arguments and legacy's
answers, so the worker runs new, judges it against old with the router's ``validate`` and
``compare``, and digests both answers itself (``_worker``). What comes back per call is a small
pickled record of figures (error kinds, seconds, differences, digests, memory sample); the pump
turns each into an observation row, and hands the turn's rows to the recorder at once. New's
value crosses back only on a mismatch (the capture keeps it), or when the router's judge cannot
reach the workers (a lambda or a closure): then the pump judges it here, as thread isolation does.

Per call the service process does the enqueue and a few microseconds of the pump's time, so the
candidate's CPU, memory and crashes stay in the worker while production keeps the GIL. The pump
sleeps 50 us after every 8 answers it handles: a caller wanting the GIL back waits for a few
answers' worth of its work (tens of microseconds), never for a whole turn.

The contract is the thread isolation's. Each call has its own budget: a worker answers calls in
order and stamps each answer with the time it finished (``time.monotonic``, shared by every
process of the machine), so the call in progress started at the later of its batch's send and
the previous answer; past ``shadow_timeout_s`` the worker is killed and that call is a timeout.
A worker that dies takes the blame for the call in progress (an exception, ``WorkerLost``); the
calls after it in its batch are sent again to another worker (waiting up to 30 s for one to
start). A worker passing its memory cap leaves after its answer; the rest of its batch is sent
again. The circuit breaker sees every outcome and is asked before each call is sent. A call that
waits longer than its budget for a worker (all busy in canary or full, or being replaced) is
skipped, counted and recorded.
"""

from __future__ import annotations

import pickle
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runbook.domain.capture import CaptureReason
from runbook.domain.modes import Mode
from runbook.domain.observation import ErrorKind, Route
from runbook.runtime._jobs import Done, ShadowJob, digest, maybe_sample
from runbook.runtime._mailbox import EMPTY, Mailbox
from runbook.runtime._process import CandidateProcesses, WorkerLost, describe_exit
from runbook.runtime._stats import Counters
from runbook.runtime._wire import send, split_records
from runbook.runtime._worker import RECYCLE_EXIT, SHADOW_BATCH

if TYPE_CHECKING:
    from runbook.runtime._calls import CandidateCalls

__all__ = ["ShadowBatches"]

_TICK_S = 0.01  # between turns while calls come in
_BACKLOG_TICK_S = 0.001  # while calls wait for a worker to finish its batch
_IDLE_TICK_MAX_S = 0.02
_MAX_BATCH = 64
_YIELD_EVERY = 8  # answers handled between two short sleeps of the pump (the GIL goes to the callers)
_YIELD_S = 50e-6
_RESENT_WAIT_S = 30.0  # how long calls sent back by a lost worker may wait for a worker (one starts in ~1 s)
_READ_CHUNK = 1 << 16
_KEY_CHARS = 128
_F64 = struct.Struct("<d")
_KINDS = {kind.value: kind for kind in ErrorKind}
_MODE_VALUE = {mode: mode.value for mode in Mode}
_COUNTER = {kind: f"shadow_{'ok' if kind is ErrorKind.NONE else kind.value}" for kind in ErrorKind}
Row = tuple[Any, ...]
_loads = pickle.loads


class _Lane:
    """A worker the pump holds while a batch is in flight: the calls sent, in order."""

    __slots__ = ("buffer", "inflight", "proc", "since")

    def __init__(self, proc: Any) -> None:
        self.proc = proc
        self.inflight: deque[ShadowJob] = deque()
        self.buffer = bytearray()
        self.since = 0.0  # monotonic: when the call at the head of ``inflight`` could start


class ShadowBatches:
    """Runs a router's shadow jobs in its candidate processes; see the module docstring.

    emit: the router's handling of a finished job (``Done``); emit_rows: the same for observation
    rows (``Observation``'s fields in order) and their counters (the pump tells the breaker).
    """

    def __init__(
        self, processes: CandidateProcesses, calls: CandidateCalls, *, emit: Callable[[Done], None],
        emit_rows: Callable[[list[Row], dict[str, int]], None], lanes: int, queue_size: int,
        counters: Counters, name: str,
    ) -> None:  # fmt: skip
        self._processes, self._calls = processes, calls
        self._emit, self._emit_rows = emit, emit_rows
        self._rows: list[Row] = []  # observations of the turn, handed over at its end
        self._counts: dict[str, int] = {}
        self._max_lanes = lanes
        self._budget = calls.shadow_timeout
        self._counters = counters
        self._mailbox = Mailbox(queue_size, max_idle_sleep_s=_IDLE_TICK_MAX_S)
        self._pending: deque[ShadowJob] = deque()  # taken from the mailbox or sent back by a lost worker
        self._lanes: list[_Lane] = []
        self._turning = False
        self._resent_until = 0.0  # wall clock, like ShadowJob.at
        self._closed = False
        self._thread = threading.Thread(target=self._pump, name=f"{name}-pump", daemon=True)
        self._thread.start()

    def submit(self, job: ShadowJob) -> bool:
        """Queue ``job`` (the caller's path); False (and nothing queued) when the queue is full."""
        return self._mailbox.offer(job)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every job submitted so far is finished; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self._turning or len(self._mailbox) or self._pending or self._in_flight():
            if time.monotonic() >= deadline or not self._thread.is_alive():
                return False
            time.sleep(0.001)
        return True

    def _in_flight(self) -> bool:
        return any(lane.inflight for lane in list(self._lanes))

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop the pump; jobs not yet judged are dropped (counted), held workers handed back."""
        self._closed = True
        self._thread.join(timeout_s)
        dropped = len(self._pending)
        self._pending.clear()
        while self._mailbox.poll() is not EMPTY:
            dropped += 1
        for lane in self._lanes:
            dropped += len(lane.inflight)
            if lane.inflight:  # busy on calls nobody waits for any more
                self._processes.lose(lane.proc, "candidate_worker_killed", kill=True)
            else:
                self._processes.give_back(lane.proc)
        self._lanes.clear()
        if dropped:
            self._counters.incr("shadow_dropped_on_close", dropped)

    # ---- the pump --------------------------------------------------------------------------------

    def _pump(self) -> None:
        tick = _TICK_S
        while not self._closed:
            time.sleep(tick)
            self._turning = True
            try:
                busy = self._turn()
            except BaseException:  # noqa: BLE001 - our own bug: counted, the pump goes on
                self._counters.incr("internal_errors")
                busy = True
            finally:
                self._turning = False
            tick = _BACKLOG_TICK_S if self._pending else _TICK_S if busy else min(tick * 2, _IDLE_TICK_MAX_S)

    def _turn(self) -> bool:
        for lane in list(self._lanes):
            self._read(lane)
        now = time.monotonic()
        for lane in list(self._lanes):
            self._check_deadline(lane, now)
        room = _MAX_BATCH - len(self._pending)
        if room > 0:
            self._pending.extend(self._mailbox.take_up_to(room))
        if self._pending:
            self._dispatch()
        for lane in list(self._lanes):
            if not lane.inflight:
                self._lanes.remove(lane)
                self._processes.give_back(lane.proc)
        if self._rows:
            rows, counts, self._rows, self._counts = self._rows, self._counts, [], {}
            self._emit_rows(rows, counts)
        return bool(self._pending or self._lanes or len(self._mailbox))

    def _dispatch(self) -> None:
        lane = self._free_lane()
        if lane is None:
            self._skip_waiting()
            return
        calls, jobs, pending = self._calls, list[ShadowJob](), self._pending
        shape, allow, sampling = calls.judge.shape, calls.breaker.allow, calls.sample_share > 0.0
        for _ in range(min(len(pending), _MAX_BATCH)):
            job = pending.popleft()
            if job.legacy_ok and (not shape.known or job.legacy_outcome is None):
                shape.learn(job.legacy_outcome)
            if sampling:
                maybe_sample(calls, job)
            if not allow():
                self._emit(job.not_run(calls, ErrorKind.CIRCUIT_OPEN, "shadow_circuit_open"))
                continue
            jobs.append(job)
        frames, jobs = self._frames(jobs)
        if not jobs:
            self._lanes.remove(lane)
            self._processes.give_back(lane.proc)
            return
        lane.inflight.extend(jobs)
        lane.since = time.monotonic()
        try:
            send(lane.proc.conn, [SHADOW_BATCH, _F64.pack(self._budget), *frames])
        except (OSError, ValueError):
            self._lost(lane, time.monotonic())

    def _frames(self, jobs: list[ShadowJob]) -> tuple[list[Any], list[ShadowJob]]:
        """The batch's frames, and the jobs in it (a job whose request cannot cross is failed here)."""
        serializer, judge_here = self._processes.serializer, self._processes.judges
        entries = [(job.args, job.kwargs, job.legacy_ok, job.legacy_outcome if job.legacy_ok else None,
                    judge_here) for job in jobs]  # fmt: skip
        try:
            return list(serializer.dumps(entries)), jobs
        except Exception:  # noqa: BLE001 - find the jobs that cannot cross, one by one
            pass
        sendable, kept = [], []
        for job, entry in zip(jobs, entries, strict=True):
            try:
                serializer.dumps([entry])
            except Exception:  # noqa: BLE001 - legacy's answer cannot cross: judged here instead
                entry = (job.args, job.kwargs, job.legacy_ok, None, False)
                try:
                    serializer.dumps([entry])
                except Exception as exc:  # noqa: BLE001 - the request itself cannot cross: new's failure
                    self._counters.incr("candidate_serialize_errors")
                    self._emit(job.finish(self._calls, exc, ErrorKind.EXCEPTION, 0.0, 0))
                    continue
            sendable.append(entry)
            kept.append(job)
        return (list(serializer.dumps(sendable)) if kept else []), kept

    def _free_lane(self) -> _Lane | None:
        """A held worker with nothing in flight, or an idle one taken now (one batch per worker at
        a time: a worker never writes answers while the pump writes to it)."""
        for lane in self._lanes:
            if not lane.inflight:
                return lane
        if len(self._lanes) >= self._max_lanes:
            return None
        proc = self._processes.take_idle()
        if proc is None:
            return None
        lane = _Lane(proc)
        self._lanes.append(lane)
        return lane

    def _skip_waiting(self) -> None:
        """Jobs that waited longer than their budget for a worker are skipped (counted, recorded)."""
        now = time.time()
        if now < self._resent_until:  # calls sent back by a lost worker wait for its replacement
            return
        oldest = now - self._budget
        while self._pending and self._pending[0].at < oldest:
            self._emit(self._pending.popleft().not_run(self._calls, ErrorKind.SKIPPED, "shadow_skipped"))
        if self._pending:
            return
        while True:
            job = self._mailbox.peek()
            if job is EMPTY or job.at >= oldest:
                return
            self._mailbox.poll()
            self._emit(job.not_run(self._calls, ErrorKind.SKIPPED, "shadow_skipped"))

    # ---- answers -----------------------------------------------------------------------------------

    def _read(self, lane: _Lane) -> None:
        ended = False
        try:
            while True:
                data = lane.proc.conn.recv(_READ_CHUNK, socket.MSG_DONTWAIT)
                if not data:
                    ended = True
                    break
                lane.buffer += data
                if len(data) < _READ_CHUNK:
                    break
        except BlockingIOError:
            pass
        except OSError:
            ended = True
        for number, record in enumerate(split_records(lane.buffer), 1):
            if number % _YIELD_EVERY == 0:  # a caller waiting for the GIL gets it now, not after all of them
                time.sleep(_YIELD_S)
            if not lane.inflight:  # cannot happen: a worker answers only what it was sent
                self._counters.incr("internal_errors")
                break
            job = lane.inflight.popleft()
            try:
                reply = _loads(record)
            except Exception as exc:  # noqa: BLE001 - cannot happen (plain figures): counted, new's failure
                self._counters.incr("internal_errors")
                self._emit(job.finish(self._calls, exc, ErrorKind.EXCEPTION, 0.0, 0))
                continue
            if self._answered(lane, job, reply):  # the worker leaves after this one
                self._drop(lane, "candidate_worker_recycled")
                self._resend(lane)
                return
        if ended:
            self._lost(lane, time.monotonic())

    def _answered(self, lane: _Lane, job: ShadowJob, reply: Any) -> bool:
        """Record one answer; True when the worker leaves after it (its memory cap passed)."""
        (judged, error, kind, seconds, end, peak, recycle, abs_difference, rel_difference, why,
         legacy_digest, candidate_digest, value, counts) = reply  # fmt: skip
        lane.since = end
        if counts:
            for name, amount in counts.items():
                self._counters.incr(name, amount)
        error_kind = _KINDS[error]
        if value is not None:  # it crossed: new's answer not judged there, or a mismatch's
            value, carried = self._value(value, error_kind)
            if not judged:
                error_kind = carried
            elif carried is not error_kind:
                value = None  # a mismatch whose value cannot cross: recorded, kept without it
        if not judged:
            self._emit(job.finish(self._calls, value, error_kind, seconds, peak))
            return bool(recycle)
        kind = _KINDS[kind]
        if kind is ErrorKind.MISMATCH:
            self._calls.keep_request(job, CaptureReason.MISMATCH, detail=why,
                                     values=(job.legacy_outcome, value),
                                     differences=(abs_difference, rel_difference))  # fmt: skip
        if not job.legacy_ok:
            legacy_digest = digest(job.legacy_outcome)
        snap = job.snap
        self._rows.append((self._calls.component, _MODE_VALUE[snap.mode], Route.LEGACY,
                           str(job.key)[:_KEY_CHARS], job.at, job.legacy_seconds * 1e6, seconds * 1e6, kind,
                           abs_difference, rel_difference, legacy_digest, candidate_digest, peak,
                           snap.epoch))  # fmt: skip
        counter = _COUNTER[kind]
        self._counts[counter] = self._counts.get(counter, 0) + 1
        self._calls.breaker.record(error_kind)
        return bool(recycle)

    def _value(self, carried: tuple[str, Any], error: ErrorKind) -> tuple[Any, ErrorKind]:
        """New's value as the worker sent it (by the component's serializer), or why it could not."""
        how, what = carried
        if how == "value":
            try:
                return self._processes.serializer.loads(what)[0], error
            except Exception as exc:  # noqa: BLE001 - a serializer's own failure: the answer was read whole
                self._counters.incr("candidate_serialize_errors")
                return exc, ErrorKind.EXCEPTION
        self._counters.incr("candidate_serialize_errors")
        return RuntimeError(what), ErrorKind.EXCEPTION

    def _check_deadline(self, lane: _Lane, now: float) -> None:
        if not lane.inflight:
            return
        elapsed = now - lane.since
        if elapsed <= self._budget:
            return
        self._drop(lane, "candidate_worker_killed", kill=True)
        job = lane.inflight.popleft()
        late = TimeoutError(f"candidate still running after its budget of {self._budget} s")
        self._emit(job.finish(self._calls, late, ErrorKind.TIMEOUT, elapsed, 0))
        self._resend(lane)

    def _lost(self, lane: _Lane, now: float) -> None:
        """The worker ended: the call in progress is its cause; the rest go to another worker."""
        code = self._processes.exit_code(lane.proc, 0.05)
        self._drop(lane, "candidate_worker_recycled" if code == RECYCLE_EXIT else "candidate_worker_deaths")
        if lane.inflight:
            job = lane.inflight.popleft()
            lost = WorkerLost(f"candidate worker died during the call ({describe_exit(code)})")
            self._emit(job.finish(self._calls, lost, ErrorKind.EXCEPTION, max(now - lane.since, 0.0), 0))
        self._resend(lane)

    def _drop(self, lane: _Lane, counter: str, *, kill: bool = False) -> None:
        self._lanes.remove(lane)
        self._processes.lose(lane.proc, counter, kill=kill)

    def _resend(self, lane: _Lane) -> None:
        if lane.inflight:
            self._resent_until = time.time() + _RESENT_WAIT_S
        self._pending.extendleft(reversed(lane.inflight))
        lane.inflight.clear()



