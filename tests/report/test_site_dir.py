"""Writing the files of a site: every byte, whatever the system calls do."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from mailspy.report import site as site_module
from mailspy.report.site import SiteDir

TEXT = "<p>Grüße \u202e \udcff</p>\n" * 500


def test_a_write_cut_short_is_carried_on(tmp_path: Path, monkeypatch) -> None:
    """os.write may take fewer bytes than it is given (a signal, a pipe, a quota):
    the rest is written, nothing twice."""
    real = os.write
    monkeypatch.setattr(site_module.os, "write", lambda fd, data: real(fd, bytes(data[:7])))
    out = SiteDir(tmp_path / "site")
    out.write("a/page.html", TEXT)
    out.write_marker({"messages": 1})
    out.commit()
    written = (tmp_path / "site" / "a" / "page.html").read_bytes()
    assert written == TEXT.encode("utf-8", "backslashreplace")


def test_a_failed_write_fails_the_site_and_leaves_no_descriptor(tmp_path: Path,
                                                               monkeypatch) -> None:
    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    before = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(site_module.os, "write", full)
    out = SiteDir(tmp_path / "site")
    for n in range(5):
        try:
            out.write(f"a/{n}.html", TEXT)
        except OSError:
            break
    with pytest.raises(OSError, match="No space left"):
        out.commit()
    out.discard()
    assert len(os.listdir("/proc/self/fd")) == before
    assert not (tmp_path / "site").exists()


def test_a_reserved_file_is_created_empty_then_written_in_place(tmp_path: Path) -> None:
    out = SiteDir(tmp_path / "site")
    out.reserve("a/page.html")
    reserved = out.root / "a" / "page.html"
    assert reserved.read_bytes() == b""
    out.write("a/page.html", TEXT)
    out.write_marker({"messages": 1})
    out.commit()
    page = tmp_path / "site" / "a" / "page.html"
    assert page.read_bytes() == TEXT.encode("utf-8", "backslashreplace")
    umask = os.umask(0)
    os.umask(umask)
    assert page.stat().st_mode & 0o777 == 0o644 & ~umask


def test_a_file_is_reserved_once(tmp_path: Path) -> None:
    out = SiteDir(tmp_path / "site")
    out.reserve("a/page.html")
    with pytest.raises(FileExistsError):
        out.reserve("a/page.html")
    out.discard()


def test_a_reserved_file_swapped_for_a_link_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    out = SiteDir(tmp_path / "site")
    out.reserve("a/page.html")
    (out.root / "a" / "page.html").unlink()
    (out.root / "a" / "page.html").symlink_to(victim)
    out.pause()  # written at once: the failure is raised here
    with pytest.raises(OSError) as raised:
        out.write("a/page.html", TEXT)
    assert raised.value.errno == errno.ELOOP
    out.discard()
    assert victim.read_text() == "untouched"
