"""`mailspy spool`: the mailq and postsuper of mailspy."""

from __future__ import annotations

import json

from mailspy.message.model import Envelope
from mailspy.spool.entry import DEAD
from mailspy.spool.store import DEAD_DIR, Spool
from tests.command import mailspy
from tests.unprivileged import mailspy_as_nobody, public_dir, readable_by_all

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


def test_a_spool_that_does_not_exist_is_an_error_not_an_empty_spool(tmp_path):
    missing = tmp_path / "nonexistent"
    for verb in (["list"], ["list", "--json"], ["retry", "--all"], ["drop", "--all-dead"], []):
        done = mailspy("spool", "--spool-dir", str(missing), *verb)
        assert (done.returncode, done.stdout) == (1, ""), verb
        assert done.stderr == (f"mailspy: error: the spool {missing} does not exist; give "
                               "the daemon's --spool-dir (default: /var/spool/mailspy)\n")
    assert not missing.exists()


def test_a_directory_that_is_not_a_spool_is_an_error(tmp_path):
    done = mailspy("spool", "--spool-dir", str(tmp_path), "list")
    assert done.returncode == 1
    assert done.stderr == (f"mailspy: error: {tmp_path} is not a mailspy spool (it has no "
                           "queue/ or dead/); give the daemon's --spool-dir (default: "
                           "/var/spool/mailspy)\n")


def test_drop_or_retry_without_ids_is_a_usage_error(spool: Spool, tmp_path):
    entry_id = spool.enqueue(make_message(), [maildir(tmp_path / "md")])
    dropped = mailspy("spool", "--spool-dir", str(spool.root), "drop")
    assert (dropped.returncode, dropped.stdout) == (2, "")
    assert dropped.stderr == ("mailspy: error: spool drop needs the IDs of the entries to "
                              "drop (see `mailspy spool list`), or --all-dead\n")
    retried = mailspy("spool", "--spool-dir", str(spool.root), "retry")
    assert (retried.returncode, retried.stdout) == (2, "")
    assert retried.stderr == ("mailspy: error: spool retry needs the IDs of the entries to "
                              "retry (see `mailspy spool list`), or --all\n")
    both = mailspy("spool", "--spool-dir", str(spool.root), "drop", entry_id, "--all-dead")
    assert both.returncode == 2
    assert both.stderr == "mailspy: error: spool drop takes IDs or --all-dead, not both\n"
    assert spool.ids() == [entry_id]


def test_a_spool_the_user_cannot_read_is_one_line_naming_who_can():
    with public_dir() as base:
        spool = Spool(base / "spool")
        spool.create()  # root's, 0700, as the daemon makes it
        entry_id = spool.enqueue(make_message(), [maildir(base / "md")])
        for verb in (["list"], ["retry", entry_id], ["drop", entry_id]):
            done = mailspy_as_nobody("spool", "--spool-dir", str(spool.root), *verb)
            assert (done.returncode, done.stdout) == (1, ""), verb
            assert done.stderr == (f"mailspy: error: cannot read the spool {spool.root}: "
                                   "Permission denied; run `sudo mailspy spool "
                                   f"--spool-dir {spool.root} {' '.join(verb)}`\n"), verb
        assert spool.ids() == [entry_id]


def test_entries_the_user_cannot_read_are_not_left_out_silently():
    with public_dir() as base:
        spool = Spool(base / "spool")
        spool.create()
        spool.enqueue(make_message(), [maildir(base / "md")])
        readable_by_all(spool.root, spool.root / "queue", spool.root / "dead")  # entries 0600
        done = mailspy_as_nobody("spool", "--spool-dir", str(spool.root), "list")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(f"mailspy: error: cannot read the spool {spool.root}: "
                                  "Permission denied; run `sudo mailspy spool")


def test_addresses_are_listed_in_angle_brackets_however_the_mta_gave_them(spool: Spool,
                                                                           tmp_path):
    message = make_message()
    message.envelope = Envelope("root@host.example", ["ann@example.org"], queue_id="Q2")
    spool.enqueue(message, [maildir(tmp_path / "md")])
    done = mailspy("spool", "--spool-dir", str(spool.root), "list")
    assert done.stdout.splitlines()[0].endswith("Q2  <root@host.example>")
    [entry] = json.loads(mailspy("spool", "--spool-dir", str(spool.root), "list",
                                 "--json").stdout)
    assert (entry["sender"], entry["recipients"]) == ("<root@host.example>",
                                                      ["<ann@example.org>"])
