"""Recording a message makes no reference cycles, hostile messages included.

While rules reload, the daemon pauses the garbage collector and then freezes
what is alive (so that a reload never stalls the MTA for a full collection):
cycles that messages made in that window would never be collected. There are
none to make, and this keeps it so.
"""

from __future__ import annotations

import gc

import pytest

from tests.robustness.hostile import HOSTILE

SAMPLE = ("ten_thousand_nested_multiparts", "message_rfc822_in_base64", "invalid_base64",
          "invalid_encoded_words", "hostile_file_names", "nul_and_8bit_in_headers",
          "closing_boundary_missing", "thousand_recipients")


@pytest.mark.parametrize("name", SAMPLE)
def test_a_recorded_message_leaves_no_cyclic_garbage(harness, name: str) -> None:
    make = HOSTILE[name]
    harness.send(make())  # the first of a kind may fill caches
    gc.collect()
    gc.disable()
    try:
        gc.set_debug(gc.DEBUG_SAVEALL)
        harness.send(make())
        gc.collect()
        found = [type(o).__name__ for o in gc.garbage]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert found == []
