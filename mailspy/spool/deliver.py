"""Workers that deliver spooled copies, retrying temporary failures with backoff.

Each copy is made by its action (the action module's `deliver`), which says
whether a failure is temporary: a pipe that exits 75 (EX_TEMPFAIL), is
killed or times out, and a Maildir that cannot be written (disk full,
read-only, permissions). Temporary failures are retried after `retry_base`,
doubling up to `retry_max`; after `max_attempts` tries or `max_age` seconds
the copy is given up and its entry moves to dead/. Other failures are given
up at once (`mailspy spool retry` brings them back).
Each target runs at most `per_target` copies at once, so one slow command
cannot take every worker.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

from mailspy.actions.action import CopyContext, CopyResult
from mailspy.actions.registry import ACTIONS
from mailspy.message.model import Message
from mailspy.spool.entry import DEAD, DONE, PENDING, Job, Meta, UnreadableEntryError, read_meta
from mailspy.spool.settings import DeliverySettings
from mailspy.spool.store import DEAD_DIR, QUEUE, Spool
from mailspy.supervise import supervised

__all__ = ["Deliverer", "DeliverySettings", "run_copy"]

log = logging.getLogger("mailspy")


def run_copy(job: Job, message: Message, key: str, settings: DeliverySettings,
             may_exist: bool = True) -> CopyResult:
    """Make one copy through its action; never raises for a failing target, only reports.

    `may_exist` is False only when no earlier attempt of this copy can have
    run (a fresh entry of this daemon, never tried): a Maildir is then not
    searched for the copy's key."""
    spec = ACTIONS.get(job.action)
    if spec is None or spec.deliver is None:
        return CopyResult(False, False, f"mailspy has no action {job.action!r} that makes copies")
    options = {name: value for name, value in job.options}
    context = CopyContext(key, may_exist, settings.pipe_timeout, options)
    return spec.deliver(job.target, message, context)


class Deliverer:
    """Schedules queued entries onto a pool of worker threads."""

    BUSY_WAIT_MAX = 5.0  # a copy whose target is busy looks again after at most this

    def __init__(self, spool: Spool, settings: DeliverySettings) -> None:
        self.spool = spool
        self.settings = settings
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="mailspy-copy")
        self._free = threading.Semaphore(settings.workers)
        self._state = threading.Condition()  # guards everything below
        self._due: list[tuple[float, str]] = []  # may hold stale items: _when decides
        self._when: dict[str, float] = {}  # entries waiting, and when they are due
        self._running: set[str] = set()
        self._fresh: set[str] = set()  # spooled by this daemon, no copy tried yet
        self._busy_wait: dict[str, float] = {}  # entries whose target was busy
        self._failures: dict[str, int] = {}  # attempts that broke down, per entry
        # copies made per (action, outcome): ok, retried, dead_lettered (for the metrics)
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self._stopping = False
        self._targets: dict[tuple[str, str], threading.Semaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(settings.per_target))
        self._thread = supervised("mailspy-spool", self._schedule)

    def start(self) -> None:
        self.rescan()
        self._thread.start()

    def submit(self, entry_id: str, when: float = 0.0, fresh: bool = False) -> None:
        """Schedule an entry, or make it due sooner; `fresh` when this daemon has
        just spooled it."""
        with self._state:
            if fresh:
                self._fresh.add(entry_id)
            if entry_id in self._running:
                return  # its worker schedules it again when done
            current = self._when.get(entry_id)
            if current is not None and current <= when:
                return
            self._when[entry_id] = when
            heapq.heappush(self._due, (when, entry_id))
            self._state.notify_all()

    def rescan(self) -> int:
        """Pick up entries left by a crash or revived by `mailspy spool retry`, and
        bring forward those the CLI made due sooner than we planned."""
        ids = self.spool.ids(QUEUE)
        now = time.time()
        for entry_id in ids:
            with self._state:
                planned = self._when.get(entry_id)
                running = entry_id in self._running
            if running:
                continue
            if planned is None:
                self.submit(entry_id)
            elif planned > now:
                self._bring_forward(entry_id, planned)
        return len(ids)

    def _bring_forward(self, entry_id: str, planned: float) -> None:
        try:
            meta = read_meta(self.spool.path(entry_id))
        except (OSError, ValueError):
            return  # settled or moved meanwhile, or unreadable: its worker buries it
        # copies never tried have next_try 0 on disk while they wait for a busy
        # target in memory: only a tried copy's time on disk says something new
        due = min((j.next_try for j in meta.pending if j.attempts), default=planned)
        if due < planned:
            self.submit(entry_id, due)

    def stop(self, wait: bool = True) -> None:
        """Start nothing new; with `wait`, finish the copies under way."""
        with self._state:
            self._stopping = True
            self._state.notify_all()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=wait)

    def wait_idle(self, timeout: float = 30.0, horizon: float = 1.0) -> bool:
        """True once no worker is busy and nothing is due within `horizon` seconds
        (a copy waiting for a busy target comes back sooner than that)."""
        deadline = time.monotonic() + timeout
        with self._state:
            while self._running or any(w <= time.time() + horizon for w in self._when.values()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._state.wait(min(remaining, 0.05))
        return True

    # -- the scheduler thread ------------------------------------------------

    def _schedule(self) -> None:
        next_scan = time.monotonic() + self.settings.scan_interval
        while not self._stopping:
            if time.monotonic() >= next_scan:  # also under a steady load
                self.rescan()
                next_scan = time.monotonic() + self.settings.scan_interval
            if not self._free.acquire(timeout=0.2):
                continue  # every worker busy; look at _stopping and the scan again
            entry_id = self._take_due(next_scan)
            if entry_id is None:
                self._free.release()
                continue
            try:
                self._pool.submit(self._work, entry_id)
            except BaseException:  # no thread to be had (a flood, say): try again later
                self._free.release()
                with self._state:
                    self._running.discard(entry_id)
                self.submit(entry_id, time.time() + 1.0)
                raise

    def _take_due(self, next_scan: float) -> str | None:
        """The next due entry (now counted running), or None after waiting a while."""
        with self._state:
            now = time.time()
            while self._due and self._due[0][0] <= now:
                when, entry_id = heapq.heappop(self._due)
                if self._when.get(entry_id) != when:
                    continue  # brought forward since: a stale item
                del self._when[entry_id]
                self._running.add(entry_id)
                return entry_id
            if self._stopping:
                return None
            wait = next_scan - time.monotonic()
            if self._due:
                wait = min(wait, self._due[0][0] - now)
            self._state.wait(max(0.01, min(wait, 1.0)))
            return None

    # -- a worker ------------------------------------------------------------

    def _work(self, entry_id: str) -> None:
        retry_at = None
        try:
            retry_at = self._deliver_entry(entry_id)
            self._failures.pop(entry_id, None)
        except UnreadableEntryError as exc:
            self._bury(entry_id, f"cannot be read: {exc}")
        except Exception as exc:
            retry_at = self._failed(entry_id, exc)
        finally:
            with self._state:
                self._running.discard(entry_id)
                if retry_at is None:
                    self._fresh.discard(entry_id)
                    self._busy_wait.pop(entry_id, None)
                self._state.notify_all()
            if retry_at is not None and not self._stopping:
                self.submit(entry_id, retry_at)
            self._free.release()

    def _failed(self, entry_id: str, exc: Exception) -> float | None:
        """An attempt that broke down outside any copy (the state could not be
        saved, say): retried like a temporary failure, and as boundedly."""
        failures = self._failures[entry_id] = self._failures.get(entry_id, 0) + 1
        if failures >= self.settings.max_attempts:
            self._bury(entry_id, f"gave up after {failures} failed attempts: "
                       f"{type(exc).__name__}: {exc}")
            return None
        log.error("spool entry %s: delivery failed (attempt %d), retrying later: %s",
                  entry_id, failures, exc, exc_info=not isinstance(exc, OSError))
        return time.time() + self.settings.retry_base

    def _bury(self, entry_id: str, reason: str) -> None:
        self._failures.pop(entry_id, None)
        try:
            self.spool.bury(entry_id, reason)
        except OSError as exc:
            log.error("spool entry %s %s, and cannot be moved to %s: %s", entry_id, reason,
                      DEAD_DIR, exc)
            return
        log.error("spool entry %s %s; moved to %s/ (see mailspy spool list)", entry_id,
                  reason, DEAD_DIR)

    def _deliver_entry(self, entry_id: str) -> float | None:
        """Run what is due; the time to come back, or None when the entry is settled."""
        with self.spool.hold(entry_id) as meta:
            if meta is None:
                return None
            message = self.spool.open_message(meta)
            with self._state:
                fresh = meta.id in self._fresh
            tried = False
            try:
                for index, job in enumerate(meta.jobs):
                    if job.state == PENDING and job.next_try <= time.time():
                        tried |= self._deliver_job(meta, index, job, message, fresh)
            finally:
                if message.body is not None:
                    message.body.close()
            if tried:
                with self._state:
                    self._busy_wait.pop(meta.id, None)
            if self.spool.settle(meta) != QUEUE:
                return None
            return min(j.next_try for j in meta.pending)

    def _deliver_job(self, meta: Meta, index: int, job: Job, message: Message,
                     fresh: bool) -> bool:
        """Try one copy; False when its target was busy and nothing was tried."""
        target = self._target(job)
        if not target.acquire(blocking=False):
            job.next_try = time.time() + self._wait_for_busy(meta.id)
            return False
        may_exist = job.attempts > 0 or not fresh
        with self._state:  # from now on a copy may exist, whatever happens next
            self._fresh.discard(meta.id)
        try:
            outcome = run_copy(job, message, f"{meta.id}.{index}", self.settings, may_exist)
        finally:
            target.release()
        self._record(meta, job, outcome)
        self.spool.save(meta)
        return True

    def _record(self, meta: Meta, job: Job, outcome: CopyResult) -> None:
        qid = meta.envelope.queue_id or "NOQUEUE"
        job.attempts += 1
        if outcome.ok:
            job.state, job.last_error = DONE, ""
            self._count(job.action, "ok")
            return
        job.last_error = outcome.reason
        age = time.time() - meta.created
        if outcome.temporary and job.attempts < self.settings.max_attempts \
                and age < self.settings.max_age:
            delay = min(self.settings.retry_base * 2 ** (job.attempts - 1),
                        self.settings.retry_max)
            job.next_try = time.time() + delay
            self._count(job.action, "retried")
            log.warning("%s: %s %s failed (attempt %d), retrying in %ds: %s", qid, job.action,
                        job.target, job.attempts, delay, outcome.reason)
            return
        job.state = DEAD
        self._count(job.action, "dead_lettered")
        why = "permanent failure" if not outcome.temporary else \
            f"gave up after {job.attempts} attempts"
        log.error("%s: %s %s failed, dead-lettered (%s; spool entry %s): %s", qid, job.action,
                  job.target, why, meta.id, outcome.reason)

    def _count(self, action: str, outcome: str) -> None:
        with self._state:
            self.outcomes[(action, outcome)] += 1

    def _wait_for_busy(self, entry_id: str) -> float:
        """How long a copy waits for its busy target: doubling, from 0.2 s up to
        BUSY_WAIT_MAX, so a backlog for one slow command is not polled hot."""
        with self._state:
            wait = min(self._busy_wait.get(entry_id, 0.1) * 2, self.BUSY_WAIT_MAX)
            self._busy_wait[entry_id] = wait
            return wait

    def _target(self, job: Job) -> threading.Semaphore:
        with self._state:
            return self._targets[(job.action, job.target)]
