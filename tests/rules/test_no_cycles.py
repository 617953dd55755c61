"""Loading rules makes no reference cycles, and neither do the rules themselves.

The daemon relies on it: it pauses the garbage collector while rules load and
then freezes what is alive, so that a reload never stalls the answers to the
MTA for a full collection (about a second with 20,000 rules). A cycle made by
a load would then never be collected: these tests fail first.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from bench.rulegen import write_rules
from mailspy.rules.load import load_rules


@pytest.fixture
def no_collector():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def unreachable() -> list[object]:
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    found = list(gc.garbage)
    gc.garbage.clear()
    gc.set_debug(0)
    return found


def write_every_kind(directory: Path) -> Path:
    rules_dir = write_rules(directory / "rules.d", 600)
    senders = directory / "senders.list"
    senders.write_text("a@example.org\n# a comment\nb@example.org\n")
    (rules_dir / "99-more.rules").write_text(
        f'rule "lists" {{ when sender in file "{senders}" or client-address in '
        '["192.0.2.0/24"] log-summary "/tmp/x.log" format json }\n'
        'rule "sizes" { when size > 10M and header "X-Spam" is "yes" stop log-headers }\n'
        'rule "broken" { when sendr is "x" log-summary }\n')
    return rules_dir


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """Rules of every kind, loaded once already: the parser is built on first use
    (once per process, when the daemon starts), and its building is not a reload."""
    directory = write_every_kind(tmp_path)
    load_rules(directory)
    return directory


def test_loading_rules_leaves_no_cyclic_garbage(rules_dir: Path, no_collector) -> None:
    result = load_rules(rules_dir)
    assert not result.ok  # diagnostics too: the broken rule is part of the test
    _ = result.rules.index, result.rules.unused_steps
    assert unreachable() == []


def test_a_dropped_rule_set_is_freed_without_the_collector(rules_dir: Path,
                                                           no_collector) -> None:
    result = load_rules(rules_dir)
    _ = result.rules.index, result.rules.unused_steps
    del result
    assert unreachable() == []
