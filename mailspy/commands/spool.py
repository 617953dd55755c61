"""`mailspy spool`: what is waiting and what was given up, like mailq and postsuper.

`list` shows every entry with its copies; `retry` brings dead copies back
(and makes waiting ones due now); `drop` deletes entries. The daemon picks
up revived entries at its next scan (--scan-interval) or on SIGHUP.

Each verb first checks the spool is one (a missing directory is an error,
not an empty spool) and turns a spool the user may not read into one line
naming who can: the spool is 0700, its owner's.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import sys
import time
from collections.abc import Callable
from typing import Any

from mailspy import defaults
from mailspy.actions.clean import clean
from mailspy.spool.entry import PENDING, Meta, UnreadableEntryError, read_meta
from mailspy.spool.store import DEAD_DIR, QUEUE, Spool, SpoolBusyError


def entries(spool: Spool) -> list[tuple[str, Meta]]:
    """Every readable entry, queued then dead."""
    return [(where, meta) for where, _, meta in everything(spool) if meta is not None]


def everything(spool: Spool) -> list[tuple[str, str, Meta | None]]:
    """(where, id, meta) of every entry; meta None for one that cannot be read."""
    found: list[tuple[str, str, Meta | None]] = []
    for where in (QUEUE, DEAD_DIR):
        for entry_id in spool.ids(where):
            try:
                found.append((where, entry_id, read_meta(spool.path(entry_id, where))))
            except UnreadableEntryError:
                found.append((where, entry_id, None))
            except PermissionError:
                raise
            except OSError:
                continue  # settled or moved while we looked
    return found


EXIT_PROBLEM, EXIT_USAGE = 1, 2
_WHICH = f"give the daemon's --spool-dir (default: {defaults.SPOOL_DIR})"


def list_entries(spool: Spool, as_json: bool) -> int:
    return _guarded(spool, ["list", *(["--json"] if as_json else [])],
                    lambda: _list_entries(spool, as_json))


def retry(spool: Spool, ids: list[str], every: bool) -> int:
    usage = _usage("retry", ids, every, "--all")
    if usage:
        return usage
    return _guarded(spool, ["retry", *(["--all"] if every else ids)],
                    lambda: _retry(spool, ids, every))


def drop(spool: Spool, ids: list[str], all_dead: bool) -> int:
    usage = _usage("drop", ids, all_dead, "--all-dead")
    if usage:
        return usage
    return _guarded(spool, ["drop", *(["--all-dead"] if all_dead else ids)],
                    lambda: _drop(spool, ids, all_dead))


def _usage(verb: str, ids: list[str], every: bool, flag: str) -> int:
    """What `retry`/`drop` act on must be said: nothing given used to do nothing, rc 0."""
    if ids and every:
        problem = f"spool {verb} takes IDs or {flag}, not both"
    elif not ids and not every:
        problem = f"spool {verb} needs the IDs of the entries to {verb} (see `mailspy spool " \
                  f"list`), or {flag}"
    else:
        return 0
    print(f"mailspy: error: {problem}", file=sys.stderr)
    return EXIT_USAGE


def _guarded(spool: Spool, verb: list[str], run: Callable[[], int]) -> int:
    """Run a verb on a spool that is one, with a spool the user may not read as one
    line saying who can."""
    try:
        problem = _not_a_spool(spool)
        if problem is None:
            return run()
    except PermissionError as exc:
        problem = f"cannot read the spool {spool.root}: {exc.strerror}; " \
                  f"{_who_can(spool, verb)}"
    print(f"mailspy: error: {problem}", file=sys.stderr)
    return EXIT_PROBLEM


def _not_a_spool(spool: Spool) -> str | None:
    try:
        names = os.listdir(spool.root)
    except (FileNotFoundError, NotADirectoryError):
        return f"the spool {spool.root} does not exist; {_WHICH}"
    if QUEUE not in names and DEAD_DIR not in names:
        return f"{spool.root} is not a mailspy spool (it has no {QUEUE}/ or {DEAD_DIR}/); " \
               f"{_WHICH}"
    return None


def _who_can(spool: Spool, verb: list[str]) -> str:
    """The command to run as the spool's owner (the user the daemon runs as)."""
    try:
        owner = pwd.getpwuid(os.stat(spool.root).st_uid).pw_name
    except (OSError, KeyError):
        return "run it as root or as the user the daemon runs as (-u)"
    words = ["mailspy", "spool"]
    if str(spool.root) != defaults.SPOOL_DIR:
        words += ["--spool-dir", str(spool.root)]
    sudo = "sudo" if owner == "root" else f"sudo -u {shlex.quote(owner)}"
    return f"run `{sudo} {shlex.join(words + verb)}`"


def _list_entries(spool: Spool, as_json: bool) -> int:
    found = everything(spool)
    if as_json:
        print(json.dumps([_as_dict(spool, where, entry_id, meta)
                          for where, entry_id, meta in found], indent=1))
        return 0
    if not found:
        print(f"{spool.root}: no spooled copies")
        return 0
    now = time.time()
    for where, entry_id, meta in found:
        if meta is None:
            why = spool.reason(entry_id) or "cannot be read"
            print(f"{entry_id}  {'DEAD ' if where == DEAD_DIR else 'queued'}  "
                  f"{_age(now - _created(entry_id)):>6}  {clean(why)}")
            continue
        env = meta.envelope
        state = "DEAD " if where == DEAD_DIR else "queued"
        print(f"{meta.id}  {state}  {_age(now - meta.created):>6}  {env.queue_id or '-'}"
              f"  <{clean(env.sender)}>")
        for job in meta.jobs:
            detail = job.state
            if job.state == PENDING and job.attempts:
                detail += f", {job.attempts} attempts, next in {_age(job.next_try - now)}"
            if job.last_error:
                detail += f": {clean(job.last_error)}"
            print(f"    {job.action} {clean(job.target)}  [{detail}]")
    queued = sum(1 for where, _, _ in found if where == QUEUE)
    print(f"{queued} queued, {len(found) - queued} dead")
    return 0


def _retry(spool: Spool, ids: list[str], every: bool) -> int:
    targets = [m.id for _, m in entries(spool)] if every else ids
    status = 0
    for entry_id in targets:
        where = DEAD_DIR if spool.path(entry_id, DEAD_DIR).exists() else QUEUE
        try:
            with spool.hold(entry_id, where, wait=False) as meta:
                if meta is None:
                    raise FileNotFoundError
                if where == DEAD_DIR:
                    spool.revive(meta)
                else:
                    for job in meta.pending:
                        job.next_try = 0.0
                    spool.save(meta)
            print(f"{entry_id}: queued for delivery")
        except (SpoolBusyError, FileNotFoundError, UnreadableEntryError) as exc:
            print(f"mailspy: {entry_id}: {_why(exc)}", file=sys.stderr)
            status = 1
    return status


def _drop(spool: Spool, ids: list[str], all_dead: bool) -> int:
    targets = [(w, i) for w, i, _ in everything(spool) if w == DEAD_DIR] if all_dead else \
        [(DEAD_DIR if spool.path(i, DEAD_DIR).exists() else QUEUE, i) for i in ids]
    status = 0
    for where, entry_id in targets:
        try:
            with spool.locked(entry_id, where, wait=False) as there:
                if not there:
                    raise FileNotFoundError
                spool.drop(entry_id, where)
            print(f"{entry_id}: dropped")
        except (SpoolBusyError, FileNotFoundError) as exc:
            print(f"mailspy: {entry_id}: {_why(exc)}", file=sys.stderr)
            status = 1
    return status


def _why(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such entry; see `mailspy spool list`"
    if isinstance(exc, UnreadableEntryError):
        return f"cannot be read ({exc}), so it cannot be delivered; remove it with " \
               "`mailspy spool drop ID`"
    return f"{exc}; try again in a moment"


def _created(entry_id: str) -> float:
    """An entry id starts with its creation time in nanoseconds."""
    try:
        return int(entry_id.split(".", 1)[0]) / 1e9
    except ValueError:
        return time.time()


def _as_dict(spool: Spool, where: str, entry_id: str, meta: Meta | None) -> dict[str, Any]:
    state = "dead" if where == DEAD_DIR else "queued"
    if meta is None:
        return {"id": entry_id, "state": state, "created": _created(entry_id),
                "unreadable": spool.reason(entry_id) or "cannot be read", "copies": []}
    return {"id": meta.id, "state": state,
            "created": meta.created, "queue_id": meta.envelope.queue_id,
            "sender": f"<{meta.envelope.sender}>",
            "recipients": [f"<{r}>" for r in meta.envelope.recipients],
            "copies": [{"action": j.action, "target": j.target, "state": j.state,
                        "attempts": j.attempts, "next_try": j.next_try,
                        "last_error": j.last_error} for j in meta.jobs]}


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
