"""Parses in several threads at once each see only their own file's problems.

The daemon reloads in its signal thread while `check-rules` may run in
another process; within one process every parse has its own collector, so
nothing is shared between parses and no lock orders them.
"""

from __future__ import annotations

import threading

from mailspy.rules.parse import parse_rules


def test_concurrent_parses_keep_their_diagnostics_apart() -> None:
    results: dict[int, list[str]] = {}
    barrier = threading.Barrier(8)

    def parse(n: int) -> None:
        text = "".join(f'rule "r{n}-{i}" {{ when sendr{n} is "x" log-summary }}\n'
                       for i in range(50))
        barrier.wait()
        _, diagnostics = parse_rules(text, f"file{n}.rules")
        results[n] = [str(d) for d in diagnostics]

    threads = [threading.Thread(target=parse, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n in range(8):
        assert len(results[n]) == 50
        assert all(d.startswith(f"file{n}.rules:") and f"'sendr{n}'" in d for d in results[n])
