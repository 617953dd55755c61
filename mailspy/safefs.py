"""Opening paths so that nobody less privileged can redirect a write.

Every directory mailspy writes in is reached from `/` one component at a
time, each opened relative to the one before (`openat`, `dir_fd=`) and
checked as it is entered, the way sshd's StrictModes checks a home
directory: it must belong to root or to the user mailspy runs as, and no
other user may write in it (a sticky directory such as /tmp is allowed:
nobody can rename what another user owns there). A symbolic link on the way
is followed only when root alone could have put it there (/var/run -> /run);
the last component is never followed (`O_NOFOLLOW`). A file that is not a
regular file, has other hard links, or belongs to another user is refused.

"The user mailspy runs as" is the effective user at the time of the call
(root before the privilege drop, the `-u` user after it); a caller working
as root on behalf of the `-u` user (making the spool before the drop) names
that user with `user=(uid, gid)`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator

__all__ = [
    "UnsafePathError",
    "check_dir",
    "check_file",
    "check_path",
    "make_dirs",
    "open_append",
    "open_dir",
    "open_dir_path",
    "ownership_problem",
    "read_regular",
]

_DIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_LINKS = 40


class UnsafePathError(PermissionError):
    """A path another user could redirect; the message says how to fix it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(errno.EPERM, reason, path)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


User = tuple[int, int] | None  # (uid, gid) trusted besides root and the effective user


def _trusted_uid(uid: int, user: User = None) -> bool:
    return uid in (0, os.geteuid()) or (user is not None and uid == user[0])


def _untrusted_can_write(info: os.stat_result, user: User = None) -> bool:
    mode = info.st_mode
    if mode & stat.S_IWOTH:
        return True
    trusted_groups = (0, os.getegid()) if user is None else (0, os.getegid(), user[1])
    return bool(mode & stat.S_IWGRP) and info.st_gid not in trusted_groups


def _check_dir(info: os.stat_result, path: str, user: User = None) -> None:
    if not _trusted_uid(info.st_uid, user):
        raise UnsafePathError(path, f"directory {path} belongs to user {info.st_uid}, who could "
                              f"redirect what mailspy writes there; run: chown root {path}")
    if _untrusted_can_write(info, user) and not info.st_mode & stat.S_ISVTX:
        raise UnsafePathError(path, f"directory {path} is writable by other users, who could "
                              f"redirect what mailspy writes there; run: chmod go-w {path}")


def check_dir(fd: int, path: str, user: User = None) -> os.stat_result:
    """Refuse a directory, opened by descriptor, that another user could change."""
    info = os.fstat(fd)
    _check_dir(info, path, user)
    return info


def _only_root_writes(info: os.stat_result) -> bool:
    mode = info.st_mode
    group_writes = mode & stat.S_IWGRP and info.st_gid != 0
    return info.st_uid == 0 and not (mode & stat.S_IWOTH or group_writes)


def _join(parent: str, name: str) -> str:
    return parent.rstrip("/") + "/" + name


def _components(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def open_dir(path: str, *, create: bool = False, mode: int = 0o700,
             owner: tuple[int, int] | None = None, user: User = None) -> int:
    """An `O_PATH` descriptor of the directory, reached safely (see the module).

    With `create`, missing directories are made with `mode` and, when
    `owner` is given, handed to that (uid, gid) by descriptor. The caller
    closes the descriptor.
    """
    if not path.startswith("/"):
        raise ValueError(f"not an absolute path: {path}")
    fd = os.open("/", _DIR)
    where, here = "/", os.fstat(fd)
    todo, links = _components(path), 0
    try:
        _check_dir(here, where, user)
        while todo:
            name = todo.pop(0)
            try:
                child = os.open(name, _DIR, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT),
                                            _join(where, name)) from None
                child = _make(fd, name, mode, owner)
            except OSError as exc:
                if exc.errno not in (errno.ENOTDIR, errno.ELOOP):
                    raise
                target = _link_target(fd, name, here, _join(where, name))
                links += 1
                if links > _MAX_LINKS:
                    raise OSError(errno.ELOOP, "too many symbolic links", path) from None
                todo = _components(target) + todo
                if target.startswith("/"):
                    os.close(fd)
                    fd = os.open("/", _DIR)
                    where, here = "/", os.fstat(fd)
                continue
            os.close(fd)
            fd = child
            where = os.path.normpath(_join(where, name))
            here = os.fstat(fd)
            _check_dir(here, where, user)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _make(parent_fd: int, name: str, mode: int, owner: tuple[int, int] | None) -> int:
    with contextlib.suppress(FileExistsError):  # made meanwhile: checked below like any
        os.mkdir(name, mode, dir_fd=parent_fd)
        os.chmod(name, mode, dir_fd=parent_fd)  # the mode asked for, whatever the umask
        if owner is not None:
            os.chown(name, *owner, dir_fd=parent_fd, follow_symlinks=False)
    return os.open(name, _DIR, dir_fd=parent_fd)


def _link_target(parent_fd: int, name: str, parent: os.stat_result, path: str) -> str:
    """Where a symbolic link on the way points, if it may be followed."""
    info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    if not stat.S_ISLNK(info.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
    sticky_safe = parent.st_mode & stat.S_ISVTX and info.st_uid == 0
    if info.st_uid != 0 or not (_only_root_writes(parent) or sticky_safe):
        raise UnsafePathError(path, f"{path} is a symbolic link that a user other than root "
                              "could have made; give the real path instead")
    return os.readlink(name, dir_fd=parent_fd)


@contextlib.contextmanager
def open_dir_path(path: str, *, create: bool = False, mode: int = 0o700,
                  owner: tuple[int, int] | None = None, user: User = None) -> Iterator[int]:
    """`open_dir` as a context manager that closes the descriptor."""
    fd = open_dir(path, create=create, mode=mode, owner=owner, user=user)
    try:
        yield fd
    finally:
        os.close(fd)


def make_dirs(path: str, mode: int = 0o700, owner: tuple[int, int] | None = None,
              user: User = None) -> None:
    """Create the directory and its missing parents, safely; an existing one is checked."""
    os.close(open_dir(path, create=True, mode=mode, owner=owner, user=user))


def check_file(fd: int, path: str) -> os.stat_result:
    """Refuse what mailspy must not append to: FIFOs, devices, hard links, others' files."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePathError(path, f"{path} is not a regular file; remove it or give "
                              "another path")
    if info.st_nlink > 1:
        raise UnsafePathError(path, f"{path} has {info.st_nlink} hard links, so writing to it "
                              "would write to another file too; remove it or give another path")
    if not _trusted_uid(info.st_uid):
        raise UnsafePathError(path, f"{path} belongs to user {info.st_uid}; run: "
                              f"chown {os.geteuid()} {path}")
    return info


def open_append(path: str, mode: int = 0o600) -> int:
    """Open a log file for appending, creating it when missing, never through a link."""
    parent, name = os.path.split(path)
    if not name:
        raise IsADirectoryError(errno.EISDIR, "is a directory", path)
    with open_dir_path(parent or "/") as dir_fd:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC \
            | os.O_NONBLOCK  # a FIFO must not block the open; refused below
        try:
            fd = os.open(name, flags, mode, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafePathError(path, f"{path} is a symbolic link; mailspy never writes "
                                      "through one: remove it") from None
            if exc.errno == errno.ENXIO:  # a FIFO nobody reads, or a socket
                raise UnsafePathError(path, f"{path} is not a regular file; remove it or "
                                      "give another path") from None
            raise OSError(exc.errno, exc.strerror, path) from None
    try:
        check_file(fd, path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_path(path: str, user: User = None) -> str | None:
    """Why a target is unsafe to write through, or None; for check-rules.

    Only the part of the path that exists is looked at: what is missing
    will be made by the user mailspy runs as. The target itself may be a
    file (a log) or a directory (a Maildir), but never a symbolic link.
    `user` is the user the daemon will write as, when that is not us.
    """
    with contextlib.suppress(OSError):
        if stat.S_ISLNK(os.lstat(path).st_mode):
            return f"{path} is a symbolic link; mailspy never writes through one: remove it"
    probe = os.path.dirname(path.rstrip("/")) or "/"
    while True:
        try:
            os.close(open_dir(probe, user=user))
            return None
        except UnsafePathError as exc:
            return exc.reason
        except (FileNotFoundError, NotADirectoryError):
            if probe == "/":
                return None
            probe = os.path.dirname(probe)
        except OSError:
            return None  # unreadable here: the daemon reports it when it opens the path


def _size(limit: int) -> str:
    return f"{limit // 1024 // 1024} MiB" if limit >= 1024 * 1024 else f"{limit:,} bytes"


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The contents of a regular file of at most `limit` bytes.

    Rules and list files are read with this: a FIFO would hang the read,
    /dev/zero would fill the memory, a directory or a dangling link says
    nothing useful; each is an error that names the problem instead.
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        if os.path.islink(name):
            raise FileNotFoundError(errno.ENOENT, "a symbolic link to "
                                    f"{os.readlink(name)}, which does not exist", name) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", name)
        too_large = OSError(errno.EFBIG, f"larger than {_size(limit)}", name)
        if info.st_size > limit:
            raise too_large
        os.set_blocking(fd, True)
        with open(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise too_large
        return data
    finally:
        os.close(fd)


def ownership_problem(path: str | os.PathLike[str]) -> str | None:
    """Why a user other than root could change what a rules or list file says."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if info.st_mode & stat.S_IWOTH:
        return f"writable by every user; run: chmod o-w {path}"
    if info.st_mode & stat.S_IWGRP and info.st_gid != 0:
        return f"writable by group {info.st_gid}; run: chmod g-w {path}"
    if info.st_uid not in (0, os.geteuid()):
        return f"owned by user {info.st_uid}, who can change it; run: chown root {path}"
    real = os.path.realpath(path)
    if real != os.path.abspath(path) and (why := check_path(real)):
        return f"a symbolic link to {real}, which other users can replace: {why}"
    return None
