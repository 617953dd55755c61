"""archive-to-maildir: deliver a copy of a message into a Maildir.

Delivery follows the Maildir rules (cr.yp.to/proto/maildir.html): write the
file in tmp/ under a unique name, fsync it, rename it into new/, fsync new/.
A reader never sees a partial file and, once `deliver` returns, the copy
survives a crash. The copy starts with `Return-Path: <SENDER>` and one
`X-Mailspy-Envelope-To: <RCPT>` per recipient, so Bcc recipients are kept.

The Maildir and its tmp/, new/, cur/ are created (mode 0700) when missing,
but not the directories above it: a missing parent is more likely a typo or
an unmounted disk than a wish for a new tree.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import os
import socket
import string
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mailspy import safefs
from mailspy.actions.action import COPY, PATH, ActionType, CopyContext, CopyResult
from mailspy.actions.copy import write_copy
from mailspy.privileges import user_name

if TYPE_CHECKING:
    from mailspy.message.model import Message

__all__ = ["ACTION", "deliver", "envelope_prefix", "find_keyed", "key_tag", "unique_name"]

DIR_MODE = 0o700
FILE_MODE = 0o600
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_deliveries = itertools.count(1)  # next() on a count is atomic under the GIL
_KEY_SAFE = frozenset(string.ascii_letters + string.digits + ".-")
_KEY_MAX = 64


def deliver(
    maildir: str | os.PathLike[str],
    message: Message,
    *,
    key: str | None = None,
    look_first: bool = True,
) -> Path:
    """Deliver the message into new/ of the Maildir and return its path.

    With `key`, delivery is idempotent: the key is part of the file name,
    and when a file carrying it is already in new/ or cur/, nothing is
    written and that file's path is returned (redelivery after a crash).
    Finding it lists new/ and cur/, so it costs time in proportion to the
    Maildir's size: a caller that knows no earlier attempt can have
    delivered the key passes `look_first=False` to skip the search and
    still names the file with the key. Two deliveries with the same key at
    the same moment are not guarded against; the caller delivers a key
    from one thread.

    The Maildir is reached through `safefs` and its tmp/, new/ and cur/
    are opened by descriptor, never through a symbolic link, so nobody who
    can write above it can send the copy elsewhere.

    Errors (no permission, disk full) raise OSError; no tmp file is left.
    """
    root = os.fspath(maildir)
    tag = None if key is None else key_tag(key)
    with _MaildirFds(root) as dirs:
        if tag is not None and look_first and (existing := find_keyed(dirs, tag)) is not None:
            return Path(root, *existing)
        name = _write_tmp(dirs.tmp, message, tag)
        try:
            os.rename(name, name, src_dir_fd=dirs.tmp, dst_dir_fd=dirs.new)
        except OSError:
            _unlink_quietly(name, dirs.tmp)
            raise
        _fsync_dir(dirs.new)
    return Path(root, "new", name)


class _MaildirFds:
    """Descriptors of a Maildir and its tmp/, new/, cur/, made (0700) where missing."""

    def __init__(self, root: str) -> None:
        self.path = root
        self._fds: list[int] = []

    def __enter__(self) -> _MaildirFds:
        parent, name = os.path.split(self.path.rstrip("/"))
        try:
            above = safefs.open_dir(parent or "/")
        except FileNotFoundError as exc:
            raise FileNotFoundError(errno.ENOENT, f"parent directory of Maildir {self.path} "
                                    "does not exist", self.path) from exc
        self._fds.append(above)
        try:
            self.root = self._subdir(above, name, self.path)
            self.tmp, self.new, self.cur = (self._subdir(self.root, sub, f"{self.path}/{sub}")
                                            for sub in ("tmp", "new", "cur"))
        except BaseException:
            self.__exit__()
            raise
        return self

    def _subdir(self, parent: int, name: str, path: str) -> int:
        created = _mkdir(parent, name)
        try:
            fd = os.open(name, _DIR, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(path):
                raise safefs.UnsafePathError(path, f"{path} is a symbolic link; mailspy never "
                                             "delivers through one: remove it") from None
            raise OSError(exc.errno, exc.strerror, path) from None
        self._fds.append(fd)
        safefs.check_dir(fd, path)
        if created:
            _fsync_dir(parent)
        return fd

    def __exit__(self, *exc_info: object) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()


def _mkdir(parent: int, name: str) -> bool:
    """mkdir; True when we created it, False when it was there already."""
    try:
        os.mkdir(name, DIR_MODE, dir_fd=parent)
    except FileExistsError:
        return False
    return True


def envelope_prefix(message: Message) -> list[tuple[str, str]]:
    """Return-Path and one X-Mailspy-Envelope-To per envelope recipient."""
    envelope = message.envelope
    prefix = [("Return-Path", f"<{envelope.sender}>")]
    prefix += [("X-Mailspy-Envelope-To", f"<{rcpt}>") for rcpt in envelope.recipients]
    return prefix


def _write_tmp(tmp_dir: int, message: Message, tag: str | None) -> str:
    """Write the copy to a new file in tmp/ and fsync it; remove it on error."""
    for _attempt in range(5):
        name = unique_name(tag)
        try:
            fd = os.open(name, _CREATE, FILE_MODE, dir_fd=tmp_dir)
        except FileExistsError:
            continue
        try:
            with open(fd, "wb") as out:
                write_copy(message, out, prefix=envelope_prefix(message))
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            _unlink_quietly(name, tmp_dir)
            raise
        return name
    raise FileExistsError(errno.EEXIST, "no unique file name in Maildir tmp/")


def unique_name(tag: str | None = None) -> str:
    """`SECS.MusecPpidQnRrand.HOST[,K=tag]`, the Maildir spec's modern form.

    In the host name `/`, `:` and `,` are written `\\057`, `\\072`,
    `\\054`, so the name stays one path component, the `:2,` info suffix
    stays unambiguous, and `,K=` fields can be found again.
    """
    now = time.time()
    seconds, micros = int(now), int((now % 1) * 1_000_000)
    unique = f"M{micros}P{os.getpid()}Q{next(_deliveries)}R{os.urandom(6).hex()}"
    name = f"{seconds}.{unique}.{_host()}"
    return name if tag is None else f"{name},K={tag}"


def _host() -> str:
    host = socket.gethostname() or "localhost"
    return host.replace("/", r"\057").replace(":", r"\072").replace(",", r"\054")


def key_tag(key: str) -> str:
    """The key as a file name part from [A-Za-z0-9._-], without collisions.

    Letters, digits, `.` and `-` stay; every other byte (including `_`)
    becomes `_XX` in hex, so distinct keys give distinct tags. A tag longer
    than 64 characters is replaced by `_h` and a SHA-256 prefix.
    """
    raw = key.encode("utf-8", "surrogateescape")
    tag = "".join(chr(b) if chr(b) in _KEY_SAFE else f"_{b:02X}" for b in raw)
    if len(tag) > _KEY_MAX:
        tag = "_h" + hashlib.sha256(raw).hexdigest()[:40]
    return tag


def find_keyed(dirs: _MaildirFds, tag: str) -> tuple[str, str] | None:
    """(sub, name) of the file in new/ or cur/ delivered with this key tag, if any."""
    field = f"K={tag}"
    for sub, fd in (("new", dirs.new), ("cur", dirs.cur)):
        readable = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
        try:
            with os.scandir(readable) as entries:
                for entry in entries:
                    base = entry.name.split(":", 1)[0]
                    if field in base.split(",")[1:]:
                        return sub, entry.name
        finally:
            os.close(readable)
    return None


def _fsync_dir(fd: int) -> None:
    readable = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
    try:
        os.fsync(readable)
    finally:
        os.close(readable)


def _unlink_quietly(name: str, dir_fd: int) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=dir_fd)


def maildir_problem(path: str) -> str | None:
    """Why the user mailspy runs as (the caller) could not deliver into this Maildir,
    or None; checked when rules load, not when the first copy fails for days."""
    user = user_name()
    if os.path.exists(path):
        if not os.path.isdir(path):
            return f"{path} is not a directory; a Maildir is one"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"user {user} may not write in the Maildir {path}; run: chown -R {user} {path}"
        return None
    parent = os.path.dirname(path.rstrip("/")) or "/"
    if not os.path.isdir(parent):
        return (f"parent directory of the Maildir {path} does not exist; create it: "
                f"install -d -o {user} -m 0750 {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        return (f"user {user} cannot create the Maildir {path}: it may not write in "
                f"{parent}; run: install -d -o {user} -m 0700 {path}")
    return None


def deliver_copy(maildir: str, message: Message, context: CopyContext) -> CopyResult:
    """One attempt of a spooled copy: a Maildir that cannot be written (disk full or
    gone, read-only, no permission) is a temporary failure, retried."""
    try:
        deliver(maildir, message, key=context.key, look_first=context.may_exist)
    except OSError as exc:
        return CopyResult(False, True, f"{exc.strerror or exc} ({exc.filename or maildir})")
    return CopyResult(True)


ACTION = ActionType(
    name="archive-to-maildir",
    doc="delivers a copy into the Maildir at the path, creating `tmp/`, `new/` and `cur/` "
        "when missing",
    kind=COPY,
    target=PATH,
    target_required=True,
    example='"/srv/archive"',
    probe=maildir_problem,
    deliver=deliver_copy,
    rank=40,
)
