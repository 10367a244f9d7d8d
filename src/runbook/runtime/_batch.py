"""Shadow calls with process isolation: sent to the candidate's workers in batches, judged there.

The caller's thread only appends one tuple to a deque (``ShadowEntry``: arguments, key, state
snapshot, its start on ``perf_counter``, legacy's outcome and latency; no object is built, no
system call made); the pump counts it as it takes it (``calls_shadow``). One pump thread per
router takes turns, never per call: every 10 ms while calls come in, backing off to 20 ms when
idle. Each turn it reads what its workers have answered (one non-blocking ``recv`` per worker),
then sends up to ``_MAX_BATCH`` (16)
of the calls that arrived meanwhile to an idle worker as one message: the calls' arguments and
legacy's answers by the component's serializer, and what each observation needs (key, time,
legacy's latency, the snapshot, pickled once per batch), so the worker runs new, judges it
against old with the router's ``validate`` and ``compare``, digests both answers and builds each
observation itself (``_worker``). While calls wait for a message, turns come every millisecond:
the pump's work comes in short pieces with the GIL free between them, so a caller that wants
the GIL back waits for one small batch at most, never for a whole turn. What comes back is one
small pickled record per batch: the observation rows, the counters, new's failures for the
circuit breaker, and, for a mismatch only, new's value (the capture keeps it). The pump hands the
rows to the recorder as they are (a sink that takes rows writes them without one Python object
per row): per call the service process does the enqueue and a share of a few ``pickle`` calls,
so the candidate's CPU, memory and crashes stay in the worker while production keeps the GIL.
When the router's judge cannot reach the workers (a lambda or a closure), new's values cross back
and the pump judges them here, as thread isolation does.

The contract is the thread isolation's. Each call has its own budget: before each call the worker
writes the batch's number, the call's index and the time (``time.monotonic``, shared by every
process of the machine) into memory it shares with the pump; past ``shadow_timeout_s`` the worker
is killed and that call is a timeout. A worker that dies takes the blame for the call it was
running (an exception, ``WorkerLost``); the other calls of its batch, answered or not (their
answers died with it), are sent again to another worker (waiting up to 30 s for one to start). A
worker passing its memory cap answers what it ran and leaves; the rest of its batch is sent again.
The circuit breaker sees every outcome and is asked before each call is sent. A call that waits
longer than its budget for a worker (all busy in canary or full, or being replaced) is skipped,
counted and recorded.
"""

from __future__ import annotations

import pickle
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from runbook.domain.capture import CaptureReason
from runbook.domain.observation import ErrorKind
from runbook.runtime._hold import hold
from runbook.runtime._jobs import Done, ShadowEntry, ShadowJob, digest, maybe_sample
from runbook.runtime._mailbox import EMPTY, Mailbox
from runbook.runtime._process import CandidateProcesses, RequestUndecodable, WorkerLost, describe_exit
from runbook.runtime._stats import Counters
from runbook.runtime._wire import send, split_records
from runbook.runtime._worker import PROGRESS, RECYCLE_EXIT, SHADOW_BATCH

if TYPE_CHECKING:
    from runbook.runtime._calls import CandidateCalls

__all__ = ["ShadowBatches"]

_TICK_S = 0.01  # between turns while calls come in
_BACKLOG_TICK_S = 0.001  # while calls wait for a worker to finish its batch
_IDLE_TICK_MAX_S = 0.02
_MAX_BATCH = 16  # calls per message: the pump holds the GIL for one small batch at a time
_RESENT_WAIT_S = 30.0  # how long calls sent back by a lost worker may wait for a worker (one starts in ~1 s)
_READ_CHUNK = 1 << 16
_KINDS = {kind.value: kind for kind in ErrorKind}
Row = tuple[Any, ...]
_loads = pickle.loads
_perf = time.perf_counter
# a ShadowEntry's fields
_ARGS: Final = 0
_KWARGS: Final = 1
_KEY: Final = 2
_SNAP: Final = 3
_AT: Final = 4
_OK: Final = 5
_OUTCOME: Final = 6
_SECONDS: Final = 7



class _Lane:
    """A worker the pump holds while a batch is in flight: the calls sent, in order."""

    __slots__ = ("buffer", "inflight", "number", "proc", "sent_at")

    def __init__(self, proc: Any) -> None:
        self.proc = proc
        self.inflight: list[ShadowEntry] = []
        self.buffer = bytearray()
        self.number = 0  # of the batch in flight (the worker's progress names it)
        self.sent_at = 0.0  # monotonic


class ShadowBatches:
    """Runs a router's shadow jobs in its candidate processes; see the module docstring.

    emit: the router's handling of a finished job (``Done``); emit_rows: the same for observation
    rows (``observation_row``'s order) and their counters (the pump tells the breaker).
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
        self._pending: deque[ShadowEntry] = deque()  # taken from the mailbox or sent back by a lost worker
        self._lanes: list[_Lane] = []
        self._numbers = 0
        self._turning = False
        self._alone = 0  # calls at the front of _pending to send one per message (see _undecodable)
        self._resent_until = 0.0  # perf_counter, like an entry's time
        self._wall_offset = time.time() - _perf()  # an entry's time + this = wall time (each turn)
        self._closed = False
        self.in_call: Callable[[], bool] | None = None  # the router's: is a caller inside a shadow call?
        self._thread = threading.Thread(target=self._pump, name=f"{name}-pump", daemon=True)
        self._thread.start()

    def offer(self, entry: ShadowEntry) -> bool:
        """Queue one shadow call (the caller's path); False (and nothing queued) when the queue is full."""
        return self._mailbox.offer(entry)

    @property
    def mailbox(self) -> Mailbox:
        """Where the caller's path appends its entries (``Router.call`` appends to it directly)."""
        return self._mailbox

    def waiting(self) -> int:
        """Shadow calls queued and not yet taken by the pump (it counts ``calls_shadow`` as it takes)."""
        return len(self._mailbox)

    def _take(self, count: int) -> list[ShadowEntry]:
        entries: list[ShadowEntry] = self._mailbox.take_up_to(count)
        if entries:
            self._counters.incr("calls_shadow", len(entries))
        return entries

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
            self._counters.incr("calls_shadow")
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
            tick = (_BACKLOG_TICK_S if self._pending else _TICK_S if busy
                    else min(tick * 2, _IDLE_TICK_MAX_S))  # fmt: skip

    def _quiet(self) -> None:
        """Wait (briefly, bounded) until no caller is inside a shadow call: the pump's next piece of
        work then takes the GIL while the callers do not need it, instead of in the middle of a call
        (where legacy's C code lets it go for a moment and would have to wait for it back). Not
        while the queue is more than half full: then the pump goes on, so calls are not skipped."""
        if self.in_call is not None and len(self._mailbox) * 2 <= self._mailbox.maxsize:
            hold(self.in_call)  # else calls pile up: shadow coverage comes first

    def _job(self, entry: ShadowEntry) -> ShadowJob:
        """The call as a job (failure and mismatch paths only), its time as wall time."""
        args, kwargs, key, snap, start, ok, outcome, seconds = entry
        return ShadowJob(args, kwargs, key, snap, start + self._wall_offset, ok, outcome, seconds)

    def _turn(self) -> bool:
        self._wall_offset = time.time() - _perf()
        for lane in list(self._lanes):
            self._quiet()
            self._read(lane)
        now = time.monotonic()
        for lane in list(self._lanes):
            self._check_deadline(lane, now)
        room = _MAX_BATCH - len(self._pending)
        if room > 0:
            self._pending.extend(self._take(room))
        if self._pending:
            self._quiet()
            self._dispatch()
        for lane in list(self._lanes):
            if not lane.inflight:
                self._lanes.remove(lane)
                self._processes.give_back(lane.proc)
        if self._rows or self._counts:
            rows, counts, self._rows, self._counts = self._rows, self._counts, [], {}
            self._emit_rows(rows, counts)
        return bool(self._pending or self._lanes or len(self._mailbox))

    def _dispatch(self) -> None:
        lane = self._free_lane()
        if lane is None:
            self._skip_waiting()
            return
        calls, pending = self._calls, self._pending
        size = min(len(pending), _MAX_BATCH)
        if self._alone:  # calls of a message the worker could not decode: one per message
            size, self._alone = min(size, 1), self._alone - 1
        entries = [pending.popleft() for _ in range(size)]
        shape = calls.judge.shape
        for entry in entries:  # legacy's kind of answer, learned until known (and None answers always)
            if entry[_OK] and (entry[_OUTCOME] is None or not shape.known):
                shape.learn(entry[_OUTCOME])
        if calls.sample_share > 0.0:
            for entry in entries:
                maybe_sample(calls, self._job(entry))
        breaker = calls.breaker
        if not breaker.closed:  # asked per call only while open or probing
            allowed = []
            for entry in entries:
                if breaker.allow():
                    allowed.append(entry)
                else:
                    job = self._job(entry)
                    self._emit(job.not_run(calls, ErrorKind.CIRCUIT_OPEN, "shadow_circuit_open"))
            entries = allowed
        frames, entries = self._frames(entries)
        if not entries:
            self._lanes.remove(lane)
            self._processes.give_back(lane.proc)
            return
        self._numbers += 1
        # what each observation needs besides the answers; the snapshot is pickled once per batch
        offset = self._wall_offset
        metas = [(entry[_KEY], entry[_AT] + offset, entry[_SECONDS], entry[_SNAP],
                  None if entry[_OK] else digest(entry[_OUTCOME])) for entry in entries]  # fmt: skip
        try:
            head = pickle.dumps((self._numbers, self._budget, calls.component, metas), protocol=5)
        except Exception:  # noqa: BLE001 - a routing key that cannot be pickled: keys as text
            metas = [(str(meta[0]), *meta[1:]) for meta in metas]
            head = pickle.dumps((self._numbers, self._budget, calls.component, metas), protocol=5)
        lane.inflight, lane.number, lane.sent_at = entries, self._numbers, time.monotonic()
        try:
            send(lane.proc.conn, [SHADOW_BATCH, head, *frames])
        except (OSError, ValueError):
            self._lost(lane, time.monotonic())

    def _frames(self, entries: list[ShadowEntry]) -> tuple[list[Any], list[ShadowEntry]]:
        """The batch's frames, and the calls in it (a call whose request cannot cross is failed here)."""
        serializer, judge_here = self._processes.serializer, self._processes.judges
        sent = [(entry[_ARGS], entry[_KWARGS], entry[_OK], entry[_OUTCOME] if entry[_OK] else None,
                 judge_here) for entry in entries]  # fmt: skip
        try:
            return list(serializer.dumps(sent)), entries
        except Exception:  # noqa: BLE001 - find the calls that cannot cross, one by one
            pass
        sendable, kept = [], []
        for entry, item in zip(entries, sent, strict=True):
            try:
                serializer.dumps([item])
            except Exception:  # noqa: BLE001 - legacy's answer cannot cross: judged here instead
                item = (entry[_ARGS], entry[_KWARGS], entry[_OK], None, False)
                try:
                    serializer.dumps([item])
                except Exception as exc:  # noqa: BLE001 - the request itself cannot cross: new's failure
                    self._cannot_cross(entry, exc)
                    continue
            sendable.append(item)
            kept.append(entry)
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
        now = _perf()
        if now < self._resent_until:  # calls sent back by a lost worker wait for its replacement
            return
        oldest = now - self._budget
        while self._pending and self._pending[0][_AT] < oldest:
            job = self._job(self._pending.popleft())
            self._emit(job.not_run(self._calls, ErrorKind.SKIPPED, "shadow_skipped"))
        if self._pending:
            return
        while True:
            entry = self._mailbox.peek()
            if entry is EMPTY or entry[_AT] >= oldest:
                return
            for taken in self._take(1):
                self._emit(self._job(taken).not_run(self._calls, ErrorKind.SKIPPED, "shadow_skipped"))

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
        for record in split_records(lane.buffer):
            try:
                reply = _loads(record)
            except Exception:  # noqa: BLE001 - cannot happen (plain figures): counted, the batch sent again
                self._counters.incr("internal_errors")
                self._drop(lane, "candidate_worker_killed", kill=True)
                self._resend(lane, lane.inflight)
                return
            if self._answered(lane, reply):  # the worker leaves after this batch
                self._drop(lane, "candidate_worker_recycled")
                self._resend(lane, lane.inflight)
                return
        if ended:
            self._lost(lane, time.monotonic())

    def _answered(self, lane: _Lane, reply: Any) -> bool:
        """Record one batch's answers; True when the worker leaves after it (its memory cap passed)."""
        number, done, recycle, rows, errors, counts, extras, undecodable = reply
        # cannot happen: a worker answers what it was sent
        if number != lane.number or done > len(lane.inflight):
            self._counters.incr("internal_errors")
            return True
        if undecodable is not None:  # the component's serializer failed on this message in the worker
            self._undecodable(lane, undecodable)
            return False
        entries, lane.inflight = lane.inflight[:done], lane.inflight[done:]
        if rows:
            self._rows.extend(rows)
        own = self._counts
        for name, amount in counts.items():
            own[name] = own.get(name, 0) + amount
        breaker = self._calls.breaker
        if errors is None:
            if rows:
                breaker.record(ErrorKind.NONE)
        else:
            for error in errors:
                breaker.record(_KINDS[error])
        for extra in extras:
            self._extra(self._job(entries[extra[0]]), extra)
        return bool(recycle)

    def _undecodable(self, lane: _Lane, why: str) -> None:
        """Nothing of the message ran: its calls go again one per message, so that only the calls
        the serializer cannot read back fail (each counted, new's exception); the worker is fine."""
        entries, lane.inflight = lane.inflight, []
        if len(entries) > 1:
            self._alone += len(entries)
            self._pending.extendleft(reversed(entries))
            return
        self._cannot_cross(entries[0], RequestUndecodable(why))

    def _cannot_cross(self, entry: ShadowEntry, failure: Exception) -> None:
        """A call whose request the serializer cannot carry to the worker: new's exception, counted."""
        self._counters.incr("candidate_serialize_errors")
        self._emit(self._job(entry).finish(self._calls, failure, ErrorKind.EXCEPTION, 0.0, 0))

    def _extra(self, job: ShadowJob, extra: tuple[Any, ...]) -> None:
        """A call whose value crossed: a mismatch judged there (its request kept), or a call the
        worker could not judge (judged here)."""
        _, error, kind, seconds, peak, abs_difference, rel_difference, why, carried = extra
        error_kind = _KINDS[error]
        value, carried_kind = self._value(carried, error_kind)
        if _KINDS[kind] is ErrorKind.MISMATCH and error_kind is ErrorKind.NONE:
            served = value if carried_kind is error_kind else None
            self._calls.keep_request(job, CaptureReason.MISMATCH, detail=why,
                                     values=(job.legacy_outcome, served),
                                     differences=(abs_difference, rel_difference))  # fmt: skip
            return
        self._emit(job.finish(self._calls, value, carried_kind, seconds, peak))

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

    def _progress(self, lane: _Lane) -> tuple[int, float]:
        """The call the worker is running (its index in the batch) and since when (monotonic)."""
        try:
            number, index, since = PROGRESS.unpack_from(lane.proc.progress)
        except (ValueError, TypeError):  # cannot happen: the shared memory lives as long as the worker
            return 0, lane.sent_at
        if number != lane.number:  # not started on this batch yet
            return 0, lane.sent_at
        again = PROGRESS.unpack_from(lane.proc.progress)  # written while read: take the later one
        if again != (number, index, since):
            _, index, since = again
        return index, max(since, lane.sent_at)

    def _check_deadline(self, lane: _Lane, now: float) -> None:
        if not lane.inflight:
            return
        index, since = self._progress(lane)
        elapsed = now - since
        if elapsed <= self._budget:
            return
        self._drop(lane, "candidate_worker_killed", kill=True)
        jobs = lane.inflight
        late = TimeoutError(f"candidate still running after its budget of {self._budget} s")
        self._emit(self._job(jobs[index]).finish(self._calls, late, ErrorKind.TIMEOUT, elapsed, 0))
        self._resend(lane, jobs[:index] + jobs[index + 1 :])

    def _lost(self, lane: _Lane, now: float) -> None:
        """The worker ended: the call it was running is its cause; the rest go to another worker."""
        code = self._processes.exit_code(lane.proc, 0.05)
        self._drop(lane, "candidate_worker_recycled" if code == RECYCLE_EXIT else "candidate_worker_deaths")
        jobs = lane.inflight
        if jobs:
            index, since = self._progress(lane)
            index = min(index, len(jobs) - 1)
            lost = WorkerLost(f"candidate worker died during the call ({describe_exit(code)})")
            job = self._job(jobs[index])
            self._emit(job.finish(self._calls, lost, ErrorKind.EXCEPTION, max(now - since, 0.0), 0))
            jobs = jobs[:index] + jobs[index + 1 :]
        self._resend(lane, jobs)

    def _drop(self, lane: _Lane, counter: str, *, kill: bool = False) -> None:
        self._lanes.remove(lane)
        self._processes.lose(lane.proc, counter, kill=kill)

    def _resend(self, lane: _Lane, jobs: list[ShadowEntry]) -> None:
        if jobs:
            self._resent_until = _perf() + _RESENT_WAIT_S
        self._pending.extendleft(reversed(jobs))
        lane.inflight = []
