"""`mailspy spool`: what is waiting and what was given up, like mailq and postsuper.

`list` shows every entry with its copies; `retry` brings dead copies back
(and makes waiting ones due now); `drop` deletes entries. The daemon picks
up revived entries at its next scan (--scan-interval) or on SIGHUP.
"""

from __future__ import annotations

import json
import sys
import time

from mailspy.actions.clean import clean
from mailspy.spool.entry import PENDING, Meta, read_meta
from mailspy.spool.store import DEAD_DIR, QUEUE, Spool, SpoolBusyError

DEFAULT_SPOOL = "/var/spool/mailspy"


def entries(spool: Spool) -> list[tuple[str, Meta]]:
    found = []
    for where in (QUEUE, DEAD_DIR):
        for entry_id in spool.ids(where):
            try:
                meta = read_meta(spool.path(entry_id, where))
            except (OSError, ValueError):
                continue  # settled or moved while we looked
            found.append((where, meta))
    return found


def list_entries(spool: Spool, as_json: bool) -> int:
    found = entries(spool)
    if as_json:
        print(json.dumps([_as_dict(where, meta) for where, meta in found], indent=1))
        return 0
    if not found:
        print(f"{spool.root}: no spooled copies")
        return 0
    now = time.time()
    for where, meta in found:
        env = meta.envelope
        state = "DEAD " if where == DEAD_DIR else "queued"
        print(f"{meta.id}  {state}  {_age(now - meta.created):>6}  {env.get('queue_id') or '-'}"
              f"  {clean(env.get('mail_from', ''))}")
        for job in meta.jobs:
            detail = job.state
            if job.state == PENDING and job.attempts:
                detail += f", {job.attempts} attempts, next in {_age(job.next_try - now)}"
            if job.last_error:
                detail += f": {clean(job.last_error)}"
            print(f"    {job.action} {clean(job.target)}  [{detail}]")
    queued = sum(1 for where, _ in found if where == QUEUE)
    print(f"{queued} queued, {len(found) - queued} dead")
    return 0


def retry(spool: Spool, ids: list[str], every: bool) -> int:
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
        except (SpoolBusyError, FileNotFoundError) as exc:
            print(f"mailspy: {entry_id}: {_why(exc)}", file=sys.stderr)
            status = 1
    return status


def drop(spool: Spool, ids: list[str], all_dead: bool) -> int:
    targets = [(w, m.id) for w, m in entries(spool) if w == DEAD_DIR] if all_dead else \
        [(DEAD_DIR if spool.path(i, DEAD_DIR).exists() else QUEUE, i) for i in ids]
    status = 0
    for where, entry_id in targets:
        try:
            with spool.hold(entry_id, where, wait=False) as meta:
                if meta is None:
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
    return f"{exc}; try again in a moment"


def _as_dict(where: str, meta: Meta) -> dict:
    return {"id": meta.id, "state": "dead" if where == DEAD_DIR else "queued",
            "created": meta.created, "queue_id": meta.envelope.get("queue_id", ""),
            "sender": meta.envelope.get("mail_from", ""),
            "recipients": meta.envelope.get("rcpt_to", []),
            "copies": [{"action": j.action, "target": j.target, "state": j.state,
                        "attempts": j.attempts, "next_try": j.next_try,
                        "last_error": j.last_error} for j in meta.jobs]}


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
