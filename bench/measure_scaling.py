"""One mailspy process at saturation, and two side by side: what more cores buy.

Why: every milter connection is a thread of one Python process, and one Python process
runs Python on one core at a time (the interpreter lock). A site that needs more runs
more mailspy processes, each on its own socket, and lets the MTAs spread their sessions
over them (docs/performance.md, "More than one core"). Here the milter client keeps more
connections open than one process can serve, first all to one mailspy, then in turns to
two; beside each rate,
the share of a core each mailspy process used, and the client's own (it is Python too,
and on a small machine it competes for the same cores).
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable, Sequence

from bench.daemons import address, cpu_seconds
from bench.measure_client import client_rate
from bench.milterclient import Mail
from bench.report import Row, rate, ratio
from bench.sizes import Sizes
from tests.e2e.postfix import MilterProcess

Progress = Callable[[str], None]


def _own_cpu() -> float:
    """CPU seconds of this process (the client), all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run(milters: Sequence[MilterProcess], corpus: Sequence[Mail], count: int,
         connections: int) -> tuple[float, list[float], float]:
    """(msg/s, each milter's share of a core, the client's share of a core)."""
    pids = [m.pid for m in milters]
    assert all(pid is not None for pid in pids)
    before = [cpu_seconds(pid) for pid in pids if pid is not None]
    client_before = _own_cpu()
    began = time.perf_counter()
    value = client_rate([address(m) for m in milters], corpus, count, connections)
    elapsed = time.perf_counter() - began
    shares = [(cpu_seconds(pid) - used) / elapsed
              for pid, used in zip([p for p in pids if p is not None], before, strict=True)]
    return value, shares, (_own_cpu() - client_before) / elapsed


def scaling_rows(first: MilterProcess, second: MilterProcess, corpus: Sequence[Mail],
                 sizes: Sizes, progress: Progress) -> list[Row]:
    connections = sizes.saturation_connections
    one: list[tuple[float, list[float], float]] = []
    two: list[tuple[float, list[float], float]] = []
    for rep in range(sizes.reps):
        runs = ((one, [first]), (two, [first, second]))
        for results, milters in (runs if rep % 2 == 0 else tuple(reversed(runs))):
            results.append(_run(milters, corpus, sizes.client_messages, connections))
            value, shares, client = results[-1]
            progress(f"saturation, rep {rep + 1}, {len(milters)} mailspy: {value:,.0f} msg/s, "
                     f"cores {' + '.join(f'{s:.2f}' for s in shares)}, client {client:.2f}")
    cores = os.cpu_count() or 1

    def median_run(results: list[tuple[float, list[float], float]]) -> tuple[float, str]:
        rates = [r for r, _, _ in results]
        _, shares, client = sorted(results, key=lambda r: r[0])[len(results) // 2]
        used = " + ".join(f"{s:.2f}" for s in shares)
        return statistics.median(rates), (
            f"{rate(statistics.median(rates))} ({min(rates):,.0f}-{max(rates):,.0f}); "
            f"mailspy used {used} of a core, the client {client:.2f} ({cores} cores)")

    one_rate, one_cell = median_run(one)
    two_rate, two_cell = median_run(two)
    where = (f"milter client, {connections} connections at a time, TCP, mail as a server "
             "sees it, mailspy in the original usage")
    return [
        Row("SAT1", f"{where}: one mailspy process at saturation (msg/s)", one_cell,
            "—", one_rate),
        Row("SAT2", f"{where}: two mailspy processes, the connections sent to each in turn "
            "÷ one process", two_cell, one_cell.split(";")[0], ratio(two_rate, one_rate)),
    ]
