"""`mailspy spool`: the mailq and postsuper of mailspy."""

from __future__ import annotations

import json

from mailspy.spool.entry import DEAD
from mailspy.spool.store import DEAD_DIR, Spool
from tests.command import mailspy

from .conftest import maildir, make_message


def kill(spool: Spool, entry_id: str, error: str = "exit status 1") -> None:
    """Make an entry dead, as the deliverer would."""
    with spool.hold(entry_id) as meta:
        meta.jobs[0].state, meta.jobs[0].attempts, meta.jobs[0].last_error = DEAD, 1, error
        spool.save(meta)
        spool.settle(meta)


def test_list_shows_queued_and_dead_entries_with_their_copies(spool: Spool, tmp_path):
    queued = spool.enqueue(make_message(), [maildir(tmp_path / "md")])
    dead = spool.enqueue(make_message(), [maildir(tmp_path / "md2")])
    kill(spool, dead, "Not a directory (/x)")
    done = mailspy("spool", "--spool-dir", str(spool.root), "list")
    assert done.returncode == 0
    out = done.stdout.splitlines()
    assert out[0].startswith(f"{queued}  queued") and out[0].endswith("Q1  <ann@example.org>")
    assert out[1] == f"    archive-to-maildir {tmp_path}/md  [pending]"
    assert out[2].startswith(f"{dead}  DEAD ")
    assert out[3] == f"    archive-to-maildir {tmp_path}/md2  [dead: Not a directory (/x)]"
    assert out[-1] == "1 queued, 1 dead"


def test_list_json(spool: Spool, tmp_path):
    entry_id = spool.enqueue(make_message(), [maildir(tmp_path / "md")])
    [entry] = json.loads(mailspy("spool", "--spool-dir", str(spool.root), "list",
                                 "--json").stdout)
    assert entry["id"] == entry_id and entry["state"] == "queued"
    assert entry["recipients"] == ["<bob@example.net>", "<cc@example.net>"]
    assert entry["copies"][0]["action"] == "archive-to-maildir"


def test_the_default_verb_is_list(spool: Spool):
    assert mailspy("spool", "--spool-dir", str(spool.root)).stdout.endswith(
        "no spooled copies\n")


def test_retry_brings_a_dead_entry_back(spool: Spool, tmp_path):
    entry_id = spool.enqueue(make_message(), [maildir(tmp_path / "md")])
    kill(spool, entry_id)
    done = mailspy("spool", "--spool-dir", str(spool.root), "retry", entry_id)
    assert (done.returncode, done.stdout) == (0, f"{entry_id}: queued for delivery\n")
    assert spool.ids() == [entry_id] and spool.ids(DEAD_DIR) == []
    with spool.hold(entry_id) as meta:
        assert (meta.jobs[0].state, meta.jobs[0].attempts) == ("pending", 0)


def test_drop_all_dead_leaves_the_queue_alone(spool: Spool, tmp_path):
    queued = spool.enqueue(make_message(), [maildir(tmp_path / "md")])
    dead = spool.enqueue(make_message(), [maildir(tmp_path / "md")])
    kill(spool, dead)
    done = mailspy("spool", "--spool-dir", str(spool.root), "drop", "--all-dead")
    assert done.stdout == f"{dead}: dropped\n"
    assert spool.ids() == [queued] and spool.ids(DEAD_DIR) == []


def test_an_unknown_or_busy_entry_is_reported(spool: Spool, tmp_path):
    done = mailspy("spool", "--spool-dir", str(spool.root), "drop", "nope")
    assert done.returncode == 1
    assert "nope: no such entry; see `mailspy spool list`" in done.stderr
    entry_id = spool.enqueue(make_message(), [maildir(tmp_path / "md")])
    with spool.hold(entry_id):  # a worker is delivering it right now
        busy = mailspy("spool", "--spool-dir", str(spool.root), "drop", entry_id)
    assert busy.returncode == 1 and "is being worked on; try again" in busy.stderr
    assert spool.ids() == [entry_id]
