"""Supervised threads: restarted when they fail, the daemon ended (status 70) when one
keeps failing straight away, so that the service manager starts a fresh one.

The pauses are shortened through `supervised`'s own parameters; nothing here waits
for real minutes.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from mailspy.supervise import CRASHES_ALLOWED, EX_SOFTWARE, supervised

ALWAYS_FAILS = textwrap.dedent("""
    import logging, sys
    from mailspy.supervise import supervised

    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(message)s")

    def deliver():
        raise RuntimeError("no file descriptor left")

    thread = supervised("mailspy-spool", deliver, pause=0.001)
    thread.start()
    thread.join()
    sys.exit(3)  # never reached: the supervisor ends the process
""")


def test_a_thread_that_keeps_failing_ends_the_process_with_status_70() -> None:
    done = subprocess.run([sys.executable, "-c", ALWAYS_FAILS], capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, EX_SOFTWARE) == (70, 70)
    assert CRASHES_ALLOWED == 10
    failures = [line for line in done.stderr.splitlines()
                if line.startswith("ERROR thread mailspy-spool failed")]
    assert len(failures) == 10  # each with its traceback
    assert done.stderr.count("RuntimeError: no file descriptor left") == 10
    assert done.stderr.splitlines()[-1] == (
        "CRITICAL thread mailspy-spool failed 10 times in a row, each within 60 s of its "
        "start; exiting so that the service manager starts mailspy again (the spool keeps "
        "what is owed)")


def test_the_pauses_between_restarts_do_not_count_toward_the_window() -> None:
    """With the daemon's pauses (1 s doubling to 30 s) ten restarts take two and a half
    minutes: a thread failing straight away each time must still end the daemon. Here
    the pauses (2 ms doubling) add up to about twice the window."""
    attempts: list[int] = []
    gave_up: list[str] = []

    def fails() -> None:
        attempts.append(1)
        raise OSError("no file descriptor left")

    thread = supervised("mailspy-spool", fails, give_up=gave_up.append, pause=0.002,
                        window=0.5)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive(), f"still restarting after {len(attempts)} failures"
    assert gave_up == ["mailspy-spool"]
    assert len(attempts) == CRASHES_ALLOWED


def test_a_thread_that_ran_a_while_before_failing_is_restarted_without_end() -> None:
    """Failures each after the thread ran longer than the window are a condition that
    passes and comes back, not a thread that cannot run: no count of them ends the
    daemon."""
    attempts: list[int] = []
    gave_up: list[str] = []

    def fails_after_a_while() -> None:
        attempts.append(1)
        if len(attempts) > 2 * CRASHES_ALLOWED:
            return
        time.sleep(0.06)  # longer than the window
        raise OSError("connection refused")

    thread = supervised("mailspy-syslog", fails_after_a_while, give_up=gave_up.append,
                        pause=0.001, window=0.05)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert gave_up == []
    assert len(attempts) == 2 * CRASHES_ALLOWED + 1


def test_a_thread_that_recovers_is_not_given_up_and_not_started_again() -> None:
    attempts: list[int] = []
    gave_up: list[str] = []

    def fails_three_times() -> None:
        attempts.append(1)
        if len(attempts) <= 3:
            raise OSError("too many open files")

    thread = supervised("mailspy-control", fails_three_times, give_up=gave_up.append,
                        pause=0.001)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert (len(attempts), gave_up) == (4, [])
