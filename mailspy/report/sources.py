"""The logs to read: files as logrotate leaves them, compressed or not, or stdin.

Rotated files are read oldest first, whatever order they are named in:
`mailspy mailspy.1 mailspy.2.gz` is read as `mailspy.2.gz`, `mailspy.1`,
`mailspy`, so the message log runs forwards in time. Compression is told
by the gzip magic number, not by the name.

Bytes that are not UTF-8 (an old log, a subject the original wrote raw)
are shown as `\\xNN`, as mailspy's own logs write them. Lines end at LF
only: a stray CR stays inside its value.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from typing import IO, BinaryIO, cast

from mailspy.report.records import Problem

__all__ = ["STDIN", "lines", "rotation_order"]

STDIN = "-"
_ROTATED = re.compile(r"^(?P<base>.*?)(?:\.(?P<n>\d+))?(?:\.gz)?$")
_GZIP_MAGIC = b"\x1f\x8b"


def rotation_order(paths: list[str]) -> list[str]:
    """Each log's rotations oldest first (highest number first), logs in the order
    they were first named; `-` (stdin) stays where it was named."""
    first_seen: dict[str, int] = {}
    keyed = []
    named: set[str] = set()
    for position, path in enumerate(paths):
        if path != STDIN:  # a log named twice is read once
            real = os.path.realpath(path)
            if real in named:
                continue
            named.add(real)
        if path == STDIN:
            base, number = f"\0{position}", 0
        else:
            match = _ROTATED.match(path)
            assert match is not None  # the pattern matches every string
            base, number = match["base"], int(match["n"] or 0)
        first_seen.setdefault(base, position)
        keyed.append(((first_seen[base], -number, position), path))
    return [path for _, path in sorted(keyed)]


def _text(binary: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(cast(BinaryIO, binary), encoding="utf-8",
                            errors="backslashreplace", newline="\n")


def _open(path: str) -> io.BufferedReader:
    if path == STDIN:
        return sys.stdin.buffer  # type: ignore[return-value]
    return open(path, "rb")


def lines(paths: list[str], problem: Callable[[Problem], None]
          ) -> Iterator[tuple[str, int, str]]:
    """(source, line number, text) for every line of every input, in rotation order.

    An input that cannot be opened or ends in a broken gzip stream is reported
    through `problem` and the next input is read: one bad file never costs the
    others.
    """
    for path in rotation_order(paths):
        name = "(stdin)" if path == STDIN else path
        try:
            raw = _open(path)
        except FileNotFoundError:
            problem(Problem(name, 0, "no such file (skipped)"))
            continue
        except OSError as exc:
            problem(Problem(name, 0, f"cannot open: {exc.strerror or exc}", unreadable=True))
            continue
        number = 0
        stream: IO[bytes] = raw
        text = None
        try:
            if raw.peek(2)[:2] == _GZIP_MAGIC:
                stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
            text = _text(stream)
            for number, line in enumerate(text, 1):
                yield name, number, line
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            problem(Problem(name, 0, f"compressed data broken after line {number}: {exc}",
                            unreadable=True))
        except OSError as exc:
            problem(Problem(name, 0, f"read failed after line {number}: "
                                     f"{exc.strerror or exc}", unreadable=True))
        finally:
            if text is not None:
                text.detach()  # closing the wrapper would close stdin too
            if stream is not raw:
                stream.close()
            if path != STDIN:
                raw.close()
