"""Nothing is written outside a configured directory; message values never become paths.

Relative targets are refused by check-rules: tests/rules/test_diagnostics.py
(test_semantic_errors, the "relative path" cases) covers that for the
plain rules; here it is checked that `--root` does not make them
acceptable. Under `--root DIR` every log and Maildir must land under DIR,
whatever `..` the target holds. And whatever a message says, the names of
the files mailspy creates come from the clock, the pid, a counter, the host
and the spool key only.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from pathlib import Path

import Milter
import pytest

from mailspy.actions.action import PATH
from mailspy.actions.registry import ACTIONS
from mailspy.actions.sinks import Sinks
from mailspy.dispatch import Recorder
from mailspy.milter.adapter import MailspyMilter
from mailspy.rules.compile import Defaults
from mailspy.rules.load import load_rules
from mailspy.spool.deliver import Deliverer, DeliverySettings
from mailspy.spool.store import Spool
from tests.robustness.harness import Connection, Harness, Mail


def load(tmp_path: Path, rules: str, root: Path):
    rules_dir = tmp_path / "rules.d"
    rules_dir.mkdir(exist_ok=True)
    (rules_dir / "10-test.rules").write_text(rules)
    return load_rules(rules_dir, defaults=Defaults(root=str(root)))


def inside(path: str, root: Path) -> bool:
    """Where the kernel will put `path`: `..` is resolved against what is above it."""
    return Path(os.path.normpath(path)).is_relative_to(root)


@pytest.mark.parametrize("target", ["var/log/x", "./x", "../x", "~/x", ""])
def test_relative_targets_are_refused_under_a_root_too(tmp_path: Path, target: str) -> None:
    result = load(tmp_path, f'rule "a" {{ log-summary "{target}" }}', tmp_path / "root")
    assert not result.ok
    assert [str(e).split(": error: ")[1] for e in result.errors] == [
        f"relative path '{target}': paths must be absolute, starting with '/'"
    ]


@pytest.mark.parametrize(("target", "climbs"), [
    ("/var/log/mailspy/mailspy", False),
    ("/srv/archive/finance/", False),
    ("//double//slashes", False),
    ("/./dot/./segments", False),
    ("/a/b/../c", False),
    ("/../../etc/passwd", True),
    ("/srv/../../../../etc/cron.d/x", True),
    ("/..", True),
    ("//../x", True),
])
@pytest.mark.parametrize("action", [n for n, a in ACTIONS.items() if a.target == PATH])
def test_every_planned_path_lies_under_the_root(tmp_path: Path, action: str, target: str,
                                                climbs: bool) -> None:
    """A target that tries to climb out may be refused instead; none is planned outside."""
    root = tmp_path / "root"
    result = load(tmp_path, f'rule "a" {{ {action} "{target}" }}', root)
    if climbs and not result.ok:
        return
    assert result.ok, [str(d) for d in result.diagnostics]
    [planned] = result.rules.rules[0].actions
    assert inside(planned.target, root), planned.target


def test_default_log_paths_lie_under_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    result = load(tmp_path, 'rule "a" { log-summary log-headers }', root)
    targets = [os.path.normpath(a.target) for a in result.rules.rules[0].actions]
    assert targets == [f"{root}/var/log/mailspy/mailspy", f"{root}/var/log/mailspy/headers"]


def test_a_dot_dot_target_under_a_root_writes_nothing_outside_it(tmp_path: Path) -> None:
    root = tmp_path / "jail" / "root"
    root.mkdir(parents=True)
    result = load(tmp_path, 'rule "a" { log-summary "/../../escaped.log"\n'
                  '  archive-to-maildir "/../../escaped-maildir" }', root)
    assert result.ok
    spool = Spool(tmp_path / "spool")
    spool.create()
    deliverer = Deliverer(spool, DeliverySettings())
    deliverer.start()
    recorder = Recorder(result.rules, Sinks(), spool, deliverer)
    previous, MailspyMilter.recorder = MailspyMilter.recorder, recorder
    try:
        connection = Connection()
        assert connection.send(Mail()) == Milter.ACCEPT
        connection.close()
        assert deliverer.wait_idle(10)
    finally:
        MailspyMilter.recorder = previous
        recorder.close()
        recorder.sinks.close_all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jail", "rules.d", "spool"]
    assert (root / "escaped.log").read_text().count("\n") == 1
    assert len(list((root / "escaped-maildir" / "new").iterdir())) == 1


# -- message-derived values never become paths ---------------------------------

TOKENS = ["subjtoken", "filetoken", "sendertoken", "rcpttoken", "headertoken", "bodytoken"]
_MAILDIR_NAME = re.compile(
    r"\d+\.M\d+P\d+Q\d+R[0-9a-f]{12}\."
    + re.escape(socket.gethostname().replace("/", r"\057").replace(":", r"\072")
                .replace(",", r"\054"))
    + r",K=[A-Za-z0-9.-]+(_[0-9A-F]{2}[A-Za-z0-9.-]*)*"
)
_SPOOL_ENTRY = re.compile(r"\d{20}\.\d+\.\d+")


def traversing_mail(escape: str) -> Mail:
    """Every value a message controls, each a path that tries to climb out."""
    climb = "../" * 12
    body = (b"--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
            b'filename="' + f"{climb}tmp/filetoken-{escape}.pdf".encode() + b'"\r\n\r\n'
            b"bodytoken\r\n--B--\r\n")
    return Mail(
        sender=f"<{climb}tmp/sendertoken-{escape}@x>",
        recipients=[f"<{climb}tmp/rcpttoken-{escape}@x>", "</rcpttoken/..@x>"],
        headers=[(b"Subject", f"{climb}tmp/subjtoken-{escape} /subjtoken".encode()),
                 (b"X-Path", f"/tmp/headertoken-{escape}".encode()),
                 (b"Message-ID", f"<{climb}headertoken@x>".encode()),
                 (b"MIME-Version", b"1.0"),
                 (b"Content-Type", b'multipart/mixed; boundary="B"')],
        body=body,
    )


def test_message_values_never_become_file_names(tmp_path: Path) -> None:
    escape = uuid.uuid4().hex
    program = tmp_path / "sink"
    program.write_text("#!/bin/sh\ncat >/dev/null\n")
    program.chmod(0o755)
    harness = Harness(tmp_path / "recorder", f'rule "pipe" {{ pipe-to-command "{program}" }}\n')
    entries: list[str] = []
    enqueue = harness.spool.enqueue
    harness.spool.enqueue = lambda *args: entries.append(enqueue(*args)) or entries[-1]
    try:
        for _ in range(3):
            harness.send(traversing_mail(escape))
    finally:
        harness.close()

    created = [name for _, dirs, files in os.walk(tmp_path) for name in dirs + files]
    assert [n for n in created if any(t in n.lower() for t in TOKENS)] == []
    copies = sorted(p.name for p in (harness.maildir / "new").iterdir())
    assert len(copies) == 3
    assert [n for n in copies if not _MAILDIR_NAME.fullmatch(n)] == []
    assert [p for p in Path("/tmp").glob(f"*{escape}*")] == []  # nothing climbed out
    assert len(entries) == 3 and all(_SPOOL_ENTRY.fullmatch(e) for e in entries), entries
