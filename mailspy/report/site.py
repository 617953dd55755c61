"""Writing a site: into a fresh folder beside the target, swapped in at the end.

A web server or a reader never sees half a report: the pages are written into
`.NAME.new-XXXXXX` next to the target, then the target is replaced by two
renames. Nothing is followed: the folder is created by mkdtemp, every file
inside is created with O_EXCL and O_NOFOLLOW, so a link planted by another
user cannot redirect a write. A target that holds something other than a
mailspy report is never replaced: a typo in `-o` must not empty `/etc`.
Modes are 0755 for folders and 0644 for files, less the umask (a umask of
027 keeps reports from other users).

Files are written by a thread of their own: creating thousands of files is
mostly waiting on the filesystem, which overlaps with rendering the next page.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import tempfile
import threading
from pathlib import Path

__all__ = ["MARKER", "SiteDir", "SiteError", "check_target", "write_file_atomically"]

MARKER = "report.json"


class SiteError(Exception):
    """The target cannot be written; the message says why and what to do."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_target(target: Path, marker: str = MARKER) -> None:
    """Refuse a target that is a link, not a folder, or a folder of other things."""
    if target.is_symlink():
        raise SiteError(f"{target} is a symbolic link; give the folder it points to")
    if target.exists():
        if not target.is_dir():
            raise SiteError(f"{target} exists and is not a folder")
        if any(target.iterdir()) and not (target / marker).is_file():
            raise SiteError(f"{target} is not empty and holds no mailspy report ({marker}); "
                            "give a new or empty folder")
    if not target.parent.is_dir():
        raise SiteError(f"{target.parent} does not exist; create it first")


class SiteDir:
    def __init__(self, target: Path, marker: str = MARKER) -> None:
        self.target = target
        self.marker = marker
        check_target(target, marker)
        self.root = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
        self._folders: set[str] = {""}
        self._reserved: set[str] = set()  # files created empty, to be written later
        self.files = 0
        self._pending: queue.Queue[tuple[str, str] | None] = queue.Queue(maxsize=64)
        self._failure: BaseException | None = None
        self._writer: threading.Thread | None = None
        self._closed = False
        self.resume()

    def resume(self) -> None:
        """Write through a thread of its own again (after `pause`)."""
        self._writer = threading.Thread(target=self._drain, name=f"write {self.target.name}",
                                        daemon=True)
        self._writer.start()

    def pause(self) -> None:
        """Wait for every queued file and stop the thread: writes are made at once until
        `resume` (before a fork, which must not copy a thread in the middle of a write)."""
        if self._writer is not None:
            self._pending.put(None)
            self._writer.join()
            self._writer = None
        if self._failure is not None:
            raise self._failure

    def write(self, relative: str, text: str) -> None:
        """Queue a file for writing; a failure of an earlier write is raised here."""
        if self._failure is not None:
            raise self._failure
        if self._closed:
            raise RuntimeError("this site is already closed")
        self.files += 1
        if self._writer is None:
            self._write_now(relative, text)
        else:
            self._pending.put((relative, text))

    def reserve(self, relative: str) -> None:
        """Create a file, empty, that `write` fills later: creating a file is what costs
        most on some filesystems, and this can be done while waiting for something
        else. Created as `write` creates files; written later without creating it."""
        if self._failure is not None:
            raise self._failure
        descriptor = self._create(relative)
        os.close(descriptor)
        self._reserved.add(relative)

    def _drain(self) -> None:
        while True:
            item = self._pending.get()
            if item is None:
                return
            if self._failure is None:
                try:
                    self._write_now(*item)
                except BaseException as exc:  # raised in the main thread, by write or close
                    self._failure = exc

    def _create(self, relative: str) -> int:
        folder, _, _ = relative.rpartition("/")
        if folder not in self._folders:
            (self.root / folder).mkdir(mode=0o755, parents=True, exist_ok=True)
            self._folders.add(folder)
        return os.open(self.root / relative,
                       os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)

    def _write_now(self, relative: str, text: str) -> None:
        data = memoryview(text.encode("utf-8", "backslashreplace"))
        # three system calls a file, no more: the writer thread takes the interpreter
        # lock back after each one, and waits for it while the main thread renders.
        # A reserved file was created by this process in its own folder, which nobody
        # else can write to: it is opened as it is (still never through a link).
        if relative in self._reserved:
            descriptor = os.open(self.root / relative, os.O_WRONLY | os.O_NOFOLLOW)
        else:
            descriptor = self._create(relative)
        try:
            while data:
                data = data[os.write(descriptor, data):]
        finally:
            os.close(descriptor)

    def write_marker(self, data: dict[str, object]) -> None:
        self.write(self.marker, json.dumps(data, indent=1, sort_keys=True) + "\n")

    def close(self) -> None:
        """Wait for every queued file; raise the first failure."""
        self._closed = True
        self.pause()

    def commit(self) -> None:
        """Put the new site in place of the target."""
        self.close()
        self.root.chmod(0o755 & ~_umask())
        check_target(self.target, self.marker)  # it may have changed while we worked
        old = None
        if self.target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.old-",
                                        dir=self.target.parent))
            os.rename(self.target, old / "site")
        os.rename(self.root, self.target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        with contextlib.suppress(BaseException):  # the site is thrown away anyway
            self.close()
        shutil.rmtree(self.root, ignore_errors=True)


def write_file_atomically(path: Path, text: str) -> None:
    """A single file replaced in one rename (a history's index page)."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", errors="backslashreplace") as out:
            out.write(text)
        os.chmod(temporary, 0o644 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
