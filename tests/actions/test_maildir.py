"""deliver(): Maildir delivery that is atomic, durable, unique and idempotent."""

import email
import io
import mailbox
import os
import re

import pytest

import mailspy.actions.maildir as maildir_module
from mailspy.actions.maildir import deliver, key_tag
from mailspy.message.model import Envelope, Message
from mailspy.safefs import UnsafePathError

BODY = b"Hello\r\nsecond line\r\n"


def _message(mail_from="<alice@example.org>", rcpt_to=("<bob@example.com>",), body=BODY):
    return Message(
        envelope=Envelope(mail_from=mail_from, rcpt_to=list(rcpt_to)),
        headers=[("From", "alice@example.org"), ("Subject", "Archived")],
        body=io.BytesIO(body),
        body_size=len(body),
    )


def _files(path) -> list[str]:
    return sorted(os.listdir(path))


def test_delivery_reads_back_with_envelope_headers_and_lf_body(tmp_path):
    root = tmp_path / "archive"
    msg = _message(rcpt_to=["<bob@example.com>", "<hidden@example.com>"])
    path = deliver(root, msg)
    assert path.parent == root / "new"
    assert path.read_bytes() == (
        b"Return-Path: <alice@example.org>\n"
        b"X-Mailspy-Envelope-To: <bob@example.com>\n"
        b"X-Mailspy-Envelope-To: <hidden@example.com>\n"
        b"From: alice@example.org\n"
        b"Subject: Archived\n"
        b"\n"
        b"Hello\nsecond line\n"
    )
    [copy] = list(mailbox.Maildir(root, create=False))
    assert copy["Return-Path"] == "<alice@example.org>"
    assert copy.get_all("X-Mailspy-Envelope-To") == ["<bob@example.com>", "<hidden@example.com>"]
    assert copy.get_payload() == "Hello\nsecond line\n"


def test_bounce_gets_empty_return_path(tmp_path):
    path = deliver(tmp_path / "md", _message(mail_from="<>"))
    assert path.read_bytes().startswith(b"Return-Path: <>\n")


def test_dirs_are_created_0700_and_file_is_0600(tmp_path):
    old_umask = os.umask(0o022)
    try:
        path = deliver(tmp_path / "md", _message())
    finally:
        os.umask(old_umask)
    for sub in ("", "tmp", "new", "cur"):
        assert (tmp_path / "md" / sub).stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600
    assert _files(tmp_path / "md" / "tmp") == []


def test_missing_parent_is_an_error_and_nothing_is_created(tmp_path):
    with pytest.raises(FileNotFoundError, match="parent directory of Maildir"):
        deliver(tmp_path / "no" / "md", _message())
    assert not (tmp_path / "no").exists()


def test_hundred_deliveries_get_hundred_unique_names(tmp_path):
    paths = [deliver(tmp_path / "md", _message()) for _ in range(100)]
    assert len({p.name for p in paths}) == 100
    assert _files(tmp_path / "md" / "new") == sorted(p.name for p in paths)
    pid = os.getpid()
    assert all(re.fullmatch(rf"\d+\.M\d+P{pid}Q\d+R[0-9a-f]{{12}}\.[^/:,]+", p.name) for p in paths)


def test_host_name_is_escaped(tmp_path, monkeypatch):
    monkeypatch.setattr(maildir_module.socket, "gethostname", lambda: "mx/1:2,3")
    name = deliver(tmp_path / "md", _message()).name
    assert name.endswith(r".mx\0571\0722\0543")


def test_same_key_delivers_once_even_after_the_file_moved_to_cur(tmp_path):
    root = tmp_path / "md"
    first = deliver(root, _message(), key="spool-0042")
    assert first.name.endswith(",K=spool-0042")
    assert deliver(root, _message(), key="spool-0042") == first
    moved = root / "cur" / f"{first.name}:2,S"
    os.rename(first, moved)
    assert deliver(root, _message(), key="spool-0042") == moved
    assert _files(root / "new") == [] and _files(root / "cur") == [moved.name]
    other = deliver(root, _message(), key="spool-00421")
    assert other.parent == root / "new"


def test_key_tag_is_filename_safe_and_distinct():
    assert key_tag("Q1.a-b") == "Q1.a-b"
    assert key_tag("q/1:2,x_y") == "q_2F1_3A2_2Cx_5Fy"
    assert key_tag("a_2F") != key_tag("a/")
    assert key_tag("é") == "_C3_A9"
    long_tag = key_tag("k" * 200)
    assert long_tag.startswith("_h") and len(long_tag) == 42
    assert long_tag != key_tag("k" * 201)


def test_hostile_envelope_cannot_add_headers(tmp_path):
    msg = _message(mail_from="<a\r\nBcc: evil@x>", rcpt_to=["<b@x>\nX-Evil: 1"])
    parsed = email.message_from_bytes(deliver(tmp_path / "md", msg).read_bytes())
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert parsed["Return-Path"] == "<a  Bcc: evil@x>"
    assert parsed["X-Mailspy-Envelope-To"] == "<<b@x> X-Evil: 1>"


def test_existing_symlink_in_tmp_is_never_followed(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.write_bytes(b"untouched")
    (tmp_path / "md" / "tmp").mkdir(parents=True)
    (tmp_path / "md" / "tmp" / "taken").symlink_to(outside)
    names = iter(["taken", "free"])
    monkeypatch.setattr(maildir_module, "unique_name", lambda tag=None: next(names))
    path = deliver(tmp_path / "md", _message())
    assert path == tmp_path / "md" / "new" / "free"
    assert outside.read_bytes() == b"untouched"


def test_maildir_under_a_regular_file_fails(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        deliver(tmp_path / "file" / "md", _message())


def test_failed_rename_leaves_no_tmp_file(tmp_path):
    root = tmp_path / "md"
    root.mkdir()
    (root / "new").write_text("not a directory")  # rename into new/ fails, even as root
    with pytest.raises(NotADirectoryError):
        deliver(root, _message())
    assert _files(root / "tmp") == []


def test_disk_full_raises_and_leaves_no_tmp_file(fs):
    fs.create_dir("/srv")
    fs.set_disk_usage(4000)
    with pytest.raises(OSError, match="No space left"):
        deliver("/srv/md", _message(body=b"x" * 10_000))
    assert _files("/srv/md/tmp") == [] and _files("/srv/md/new") == []


@pytest.mark.parametrize("sub", ["tmp", "new", "cur"])
def test_a_symlinked_maildir_subdirectory_is_refused_not_written_through(tmp_path, sub):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = tmp_path / "md"
    root.mkdir()
    for name in ("tmp", "new", "cur"):
        if name == sub:
            (root / name).symlink_to(elsewhere)
        else:
            (root / name).mkdir()
    with pytest.raises(UnsafePathError, match="symbolic link"):
        deliver(root, _message())
    assert list(elsewhere.iterdir()) == []


def test_a_symlink_in_place_of_the_maildir_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "md").symlink_to(elsewhere)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        deliver(tmp_path / "md", _message())
    assert list(elsewhere.iterdir()) == []


def test_a_maildir_below_a_directory_other_users_can_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(UnsafePathError, match="writable by other users"):
        deliver(shared / "md", _message())
    assert list(shared.iterdir()) == []
