"""Helpers for tests on a disk that fills up (see the `small_disk` fixture)."""

from __future__ import annotations

import os
from pathlib import Path


def fill(directory: Path) -> Path:
    """Fill the file system under `directory` to the last byte; returns the filler,
    whose removal gives the space back."""
    filler = Path(directory) / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)
    return filler
