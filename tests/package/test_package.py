"""The Debian package, built, checked by lintian, installed for real, run, and purged.

`make deb` builds it; lintian must report no error. `apt-get install ./DEB`
installs it over what an install by hand leaves (a summary log in the file
/var/log/mailspy). The daemon is started the way the installed unit says
(tests/package/unit.py: its ExecStart=, user, runtime directory and file
system sandbox; the machines have no systemd), mail goes through a private
Postfix into the summary log, SIGHUP swaps in good rules and refuses broken
ones, logrotate rotates the logs with the installed snippet and SIGUSR1 makes
the daemon, as the mailspy user, write to new files. The purge must leave the
machine as it was. Every module fixture undoes what it did, also when a test
fails; the tests run in the order written.
"""

from __future__ import annotations

import grp
import mailbox
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.postfix import (
    MilterError,
    MilterProcess,
    PrivatePostfix,
    postfix_available,
    unix_listening,
)
from tests.waiting import eventually

from . import machine
from .unit import Unit, make_runtime_directory, remove_runtime_directory, sandboxed

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
UNIT = Path("/lib/systemd/system/mailspy.service")
DROP_INS = Path("/etc/systemd/system/mailspy.service.d")
SOCKET = Path("/run/mailspy/milter")
LOGS = Path("/var/log/mailspy")
SUMMARY = LOGS / "mailspy"
RULES = Path("/etc/mailspy/rules.d")
OLD_LOG = "26-11-20 09:00\ttime=1795165200\tfrom=<old@example.org>\tto=<x@example.net>\n"
MESSAGE = "From: ann@example.org\nTo: bob@example.net\nSubject: {subject}\n\nhello\n"


# -- the package -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def deb() -> Path:
    """`make deb`: a no-op when the package is newer than its sources."""
    if os.geteuid() != 0:
        pytest.skip("building and installing a Debian package needs root")
    done = subprocess.run(["make", "-s", "deb"], cwd=REPO, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    [package] = REPO.glob("dist/mailspy_*_all.deb")
    return package


@pytest.fixture(scope="module")
def extracted(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("deb")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root


def test_lintian_reports_no_errors(deb: Path) -> None:
    done = subprocess.run(["lintian", "--pedantic", "--info", str(deb)],
                          capture_output=True, text=True, timeout=600)
    report = done.stdout + done.stderr
    assert not re.findall(r"^E: .*", report, re.M), report
    assert done.returncode == 0, report


def test_the_package_is_named_for_the_projects_version(deb: Path) -> None:
    version = re.search(r'^version = "(.*)"$', (REPO / "pyproject.toml").read_text(), re.M)
    assert version is not None
    assert deb.name == f"mailspy_{version.group(1)}_all.deb"


def test_systemd_analyze_rates_the_unit_at_most_4(extracted: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (make deb-tools)")
    unit = extracted / UNIT.relative_to("/")
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= 4.0, done.stdout


def test_the_unit_and_its_copy_for_installs_by_hand_differ_only_in_the_program_path(
        ) -> None:
    packaged = (REPO / "debian/mailspy.service").read_text()
    by_hand = (REPO / "contrib/mailspy.service").read_text()

    def settings(text: str) -> list[str]:
        return [line for line in text.splitlines() if line and not line.startswith("#")]

    assert settings(by_hand) == [line.replace("/usr/bin/mailspy", "/opt/mailspy/bin/mailspy")
                                 for line in settings(packaged)]


def test_the_logrotate_snippet_for_installs_by_hand_is_the_packages() -> None:
    assert (REPO / "contrib/mailspy.logrotate").read_text() == \
        (REPO / "debian/mailspy.logrotate").read_text()


def test_the_man_pages_render_without_warnings(extracted: Path) -> None:
    for page in ("usr/share/man/man8/mailspy.8.gz", "usr/share/man/man5/mailspy.rules.5.gz"):
        done = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z",
                               str(extracted / page)], capture_output=True, text=True,
                              env={**os.environ, "MANWIDTH": "80", "LC_ALL": "C.UTF-8"})
        assert done.returncode == 0 and done.stderr == "", (page, done.stderr)
    text = subprocess.run(["man", "-l", str(extracted / "usr/share/man/man8/mailspy.8.gz")],
                          capture_output=True, text=True, env={**os.environ, "MANWIDTH": "80"},
                          check=True).stdout
    assert "mailspy - record mail by rules" in text
    assert "--spool-dir" in text and "SIGUSR1" in text and "/etc/mailspy/mailspy.conf" in text


# -- installed for real ---------------------------------------------------------------


@pytest.fixture(scope="module")
def installed(deb: Path) -> Iterator[machine.Installation]:
    """The package installed over an install by hand; purged at the end whatever
    happens (the purge test purges first and checks the result)."""
    with machine.exclusive():
        if reason := machine.foreign_installation():
            pytest.skip(f"{reason}: the package test installs and purges mailspy and "
                        "would destroy it")
        installation = machine.Installation(deb)
        installation.before = machine.snapshot()  # type: ignore[attr-defined]
        try:
            installation.install(OLD_LOG)
            yield installation
        finally:
            installation.purge()


def test_the_install_makes_the_user_the_directories_and_the_conffiles(
        installed: machine.Installation) -> None:
    user = pwd.getpwnam("mailspy")
    assert user.pw_uid < 1000 and user.pw_shell == "/usr/sbin/nologin"
    assert user.pw_dir == "/nonexistent" and not os.path.exists("/nonexistent")
    assert grp.getgrgid(user.pw_gid).gr_name == "mailspy"

    def owner_mode(path: str) -> tuple[str, str, str]:
        info = os.stat(path)
        return (pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name,
                oct(info.st_mode & 0o7777))

    assert owner_mode("/var/log/mailspy") == ("mailspy", "adm", "0o750")
    assert owner_mode("/var/spool/mailspy") == ("mailspy", "mailspy", "0o700")
    assert owner_mode("/etc/mailspy/rules.d") == ("root", "root", "0o755")
    # the summary log of the install by hand goes on inside the directory
    assert SUMMARY.read_text() == OLD_LOG
    assert owner_mode(str(SUMMARY)) == ("mailspy", "adm", "0o640")

    conffiles = subprocess.run(["dpkg-query", "-W", "-f=${Conffiles}", "mailspy"],
                               capture_output=True, text=True, check=True).stdout
    assert sorted(line.split()[0] for line in conffiles.strip().splitlines()) == [
        "/etc/logrotate.d/mailspy", "/etc/mailspy/mailspy.conf",
        "/etc/mailspy/rules.d/90-summary.rules"]
    assert os.readlink("/etc/systemd/system/multi-user.target.wants/mailspy.service") \
        == str(UNIT)
    assert Path("/usr/share/doc/mailspy/copyright").exists()
    for doc in ("many-hosts.md", "report.md", "privacy.md", "images/report-index.png",
                "examples/mailspy.json",
                "examples/mailspy-alerts.yml", "examples/mailspy-forward.conf",
                "examples/mailspy-report.timer"):
        assert any(Path("/usr/share/doc/mailspy").glob(doc + "*")), doc
    for page in ("man8/mailspy.8.gz", "man5/mailspy.rules.5.gz"):
        assert Path("/usr/share/man", page).exists()


def test_the_installed_commands_run_on_debians_libraries(installed: machine.Installation
                                                         ) -> None:
    """Debian's python3-lark (1.1.5 in Debian 12) parses every example rule and passes
    every fixture the repository has."""
    for rules, fixtures in ((REPO / "rules.d", REPO / "rules.d/fixtures"),
                            (RULES, None)):
        # the repository's examples name Maildirs of a server, not of this machine
        offline = ["--offline"] if fixtures else []
        argv = ["/usr/bin/mailspy", "check-rules", *offline, "-d", str(rules)]
        done = subprocess.run(argv + (["--test", str(fixtures)] if fixtures else []),
                              capture_output=True, text=True, cwd="/")
        assert done.returncode == 0, done.stdout + done.stderr
    with tempfile.NamedTemporaryFile("w", suffix=".rules") as broken:
        broken.write('rule "x" {\n    when sender iss "a"\n    log-summary\n}\n')
        broken.flush()
        done = subprocess.run(["/usr/bin/mailspy", "check-rules", broken.name],
                              capture_output=True, text=True)
    assert done.returncode == 1
    assert re.search(rf"{broken.name}:2:\d+: error", done.stdout + done.stderr)


# -- the daemon, started as the unit says --------------------------------------------


class UnitSocket(MilterProcess):
    """Listening on the unit's socket, however the daemon spells its path: /var/run
    is a link to /run."""

    def ready(self) -> bool:
        return any(unix_listening(Path(prefix) / SOCKET.relative_to("/run"))
                   for prefix in ("/run", "/var/run"))


class Service:
    """mailspy.service without systemd: ExecStart= run as the unit says, stopped with
    SIGTERM as systemd would. NOTIFY_SOCKET is a datagram socket of the test."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.notify_dir = Path(tempfile.mkdtemp(prefix="mailspy-notify-", dir="/run"))
        self.notify_dir.chmod(0o755)
        self.notify_path = self.notify_dir / "notify"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.notify_path.chmod(0o666)
        self.notify.setblocking(False)
        self.notices: list[str] = []
        self.process: MilterProcess | None = None
        self.started: Unit | None = None
        self.starts = 0

    @property
    def unit(self) -> Unit:
        return Unit.read(UNIT, [DROP_INS])

    def start(self) -> MilterProcess:
        unit = self.started = self.unit
        make_runtime_directory(unit)
        argv = sandboxed(unit, unit.command("ExecStart"),
                         {"NOTIFY_SOCKET": str(self.notify_path)})
        self.starts += 1
        self.process = UnitSocket(argv, socket_path=SOCKET,
                                     output=self.work / f"daemon-{self.starts}.out")
        return self.process.start(timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
        if self.started is not None:
            remove_runtime_directory(self.started)
            self.started = None

    def restart(self) -> MilterProcess:
        self.stop()
        return self.start()

    @property
    def pid(self) -> int:
        assert self.process is not None and self.process.pid is not None
        return self.process.pid

    def output(self) -> str:
        return self.process.output() if self.process else ""

    def signal(self, signum: int, logged: str) -> str:
        """Send a signal; return the daemon's output once `logged` appears in it anew."""
        seen = self.output().count(logged)
        os.kill(self.pid, signum)
        eventually(lambda: self.output().count(logged) > seen, 30)
        return self.output()

    def notifications(self) -> list[str]:
        while True:
            try:
                self.notices += self.notify.recv(4096).decode().split("\n")
            except BlockingIOError:
                return self.notices

    def run_as_unit(self, key: str) -> subprocess.CompletedProcess[str]:
        """ExecReload= or another command of the unit, run as systemd would run it."""
        unit = self.unit
        return subprocess.run(sandboxed(unit, unit.command(key), {"MAINPID": str(self.pid)}),
                              capture_output=True, text=True, timeout=120)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self.notify.close()
            shutil.rmtree(self.notify_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def service(installed: machine.Installation, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Service]:
    service = Service(tmp_path_factory.mktemp("service"))
    RUNNING.append(service)
    try:
        service.start()
        yield service
    finally:
        service.close()
        RUNNING.remove(service)


RUNNING: list[Service] = []


@pytest.fixture(scope="module")
def postfix(service: Service) -> Iterator[PrivatePostfix]:
    """A private Postfix handing mail to the unit's socket. Its user joins the
    socket's group, as docs/packaging.md tells a postmaster to."""
    if not postfix_available():
        pytest.skip("postfix is not installed (make deps)")
    subprocess.run(["adduser", "--quiet", "postfix", "mailspy"], check=True)
    mta = PrivatePostfix(f"unix:{SOCKET}")
    try:
        yield mta.start()
    finally:
        mta.stop()


def send(postfix: PrivatePostfix, subject: str) -> None:
    postfix.send("ann@example.org", ["bob@example.net"], MESSAGE.format(subject=subject))


def summaries(path: Path = SUMMARY) -> list[str]:
    return [line for line in path.read_text().splitlines() if "\tsubject=" in line]


def subjects(path: Path = SUMMARY) -> list[str]:
    return [re.search(r"\tsubject=([^\t]*)", line).group(1)  # type: ignore[union-attr]
            for line in summaries(path)]


def test_the_daemon_runs_as_the_mailspy_user_and_listens_on_the_unit_socket(
        service: Service) -> None:
    status = Path(f"/proc/{service.pid}/status").read_text()
    uid = pwd.getpwnam("mailspy").pw_uid
    assert re.search(rf"^Uid:\s+{uid}\s+{uid}\s+{uid}\s+{uid}$", status, re.M), status
    assert re.search(r"^CapEff:\s+0+$", status, re.M), status
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status
    assert oct(SOCKET.stat().st_mode & 0o777) == "0o660"
    eventually(lambda: "listening on" in service.output())


def test_the_daemon_tells_systemd_it_is_ready(service: Service) -> None:
    eventually(lambda: "READY=1" in service.notifications(), 30)


def test_mail_through_postfix_gets_a_summary_line(service: Service,
                                                  postfix: PrivatePostfix) -> None:
    send(postfix, "first")
    send(postfix, "second")
    eventually(lambda: subjects()[-2:] == ["first", "second"])
    assert SUMMARY.read_text().startswith(OLD_LOG)
    assert postfix.count_tempfails() == 0


def test_sighup_takes_good_rules_and_refuses_broken_ones(service: Service,
                                                         postfix: PrivatePostfix) -> None:
    extra = LOGS / "reload.log"
    rules = RULES / "10-reload.rules"
    rules.write_text(f'rule "reloaded" {{\n    when subject contains "reload"\n'
                     f'    log-summary "{extra}"\n}}\n')
    service.signal(signal.SIGHUP, "reloaded:")
    send(postfix, "reload one")
    eventually(lambda: subjects(extra) == ["reload one"])

    rules.write_text('rule "reloaded" {\n    when subject contans "reload"\n}\n')
    output = service.signal(signal.SIGHUP, "reload refused")
    assert f"{rules}:2:" in output
    send(postfix, "reload two")  # the running rules stay: still recorded in both logs
    eventually(lambda: subjects(extra) == ["reload one", "reload two"])
    assert subjects()[-1] == "reload two"
    rules.unlink()
    service.signal(signal.SIGHUP, "reloaded:")


def test_mailspy_reload_says_whether_the_new_rules_are_live(service: Service) -> None:
    rules = RULES / "10-reload-command.rules"
    try:
        rules.write_text('rule "fine" {\n    when subject contains "x"\n    log-summary\n}\n')
        done = service.run_as_unit("ExecReload")
        assert done.returncode == 0, done.stdout + done.stderr
        rules.write_text('rule "fine" {\n    when subject contans "x"\n}\n')
        done = service.run_as_unit("ExecReload")
        assert done.returncode != 0
        assert f"{rules}:2:" in done.stdout + done.stderr
    finally:
        rules.unlink(missing_ok=True)
        service.signal(signal.SIGHUP, "reloaded:")


def test_mailspy_status_reports_the_running_daemon(service: Service) -> None:
    unit = service.unit
    done = subprocess.run(sandboxed(unit, ["/usr/bin/mailspy", "status"]),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "90-summary.rules" in done.stdout


def test_a_bare_log_headers_writes_into_the_log_directory(service: Service,
                                                          postfix: PrivatePostfix) -> None:
    rules = RULES / "10-headers.rules"
    try:
        rules.write_text('rule "headers" {\n    when subject contains "dump"\n'
                         "    log-headers\n}\n")
        service.signal(signal.SIGHUP, "reloaded:")
        send(postfix, "dump me")
        eventually(lambda: "Subject: dump me" in (LOGS / "headers").read_text())
    finally:
        rules.unlink(missing_ok=True)
        service.signal(signal.SIGHUP, "reloaded:")


@pytest.fixture
def archive_dir() -> Iterator[Path]:
    """A directory of the mailspy user under /srv, as the docs' Maildir examples use;
    the drop-in that lets the unit write there; both removed afterwards."""
    account = pwd.getpwnam("mailspy")
    where = Path(tempfile.mkdtemp(prefix="mailspy-package-test-", dir="/srv"))
    os.chown(where, account.pw_uid, account.pw_gid)
    where.chmod(0o750)
    DROP_INS.mkdir(exist_ok=True)
    (DROP_INS / "archive.conf").write_text(f"[Service]\nReadWritePaths={where}\n")
    try:
        yield where
    finally:
        shutil.rmtree(DROP_INS, ignore_errors=True)
        shutil.rmtree(where, ignore_errors=True)


def test_maildir_copies_and_procmail_work_where_a_drop_in_allows(
        service: Service, postfix: PrivatePostfix, archive_dir: Path) -> None:
    """The sandbox leaves the file system read-only but for the unit's paths: a
    postmaster's drop-in adds a directory, and both ways of keeping copies work
    there. Without the drop-in they fail, and the copy waits in the spool."""
    procmail = shutil.which("procmail")
    if procmail is None:
        pytest.skip("procmail is not installed (make deps)")
    rcfile = Path("/etc/mailspy/archive.procmailrc")
    rcfile.write_text(f":0\n{archive_dir}/procmail/\n")
    rules = RULES / "20-archive.rules"
    rules.write_text(f'rule "archive" {{\n    when subject contains "archive"\n'
                     f'    archive-to-maildir "{archive_dir}/maildir"\n'
                     f'    pipe-to-command "{procmail} -m {rcfile}"\n}}\n')
    try:
        service.restart()  # systemd reads drop-ins when the service starts
        send(postfix, "archive this")
        eventually(lambda: len(maildir(archive_dir / "maildir")) == 1, 30)
        eventually(lambda: len(maildir(archive_dir / "procmail")) == 1, 30)
        [copy] = maildir(archive_dir / "maildir")
        assert copy["Subject"] == "archive this"
        assert all(path.stat().st_uid == os.stat(archive_dir).st_uid
                   for path in archive_dir.rglob("*"))

        (DROP_INS / "archive.conf").unlink()
        try:
            service.restart()
        except MilterError as refused:  # a daemon that checks its Maildirs at start
            assert str(archive_dir) in str(refused), str(refused)
        else:
            send(postfix, "archive that")
            eventually(lambda: "Read-only file system" in service.output(), 30)
            assert len(maildir(archive_dir / "maildir")) == 1
    finally:
        rules.unlink(missing_ok=True)
        rcfile.unlink(missing_ok=True)
        drop_spooled_copies()
        service.restart()


def drop_spooled_copies() -> None:
    listed = subprocess.run(["/usr/bin/mailspy", "spool", "list", "--json"],
                            capture_output=True, text=True)
    ids = re.findall(r'"id": "([^"]+)"', listed.stdout)
    if ids:
        subprocess.run(["/usr/bin/mailspy", "spool", "drop", *ids], capture_output=True)


def maildir(path: Path) -> list[mailbox.MaildirMessage]:
    made = all((path / sub).is_dir() for sub in ("tmp", "new", "cur"))
    return list(mailbox.Maildir(path, create=False)) if made else []


def test_logrotate_rotates_and_sigusr1_reopens_as_the_mailspy_user(
        service: Service, postfix: PrivatePostfix, tmp_path: Path) -> None:
    send(postfix, "before rotation")
    eventually(lambda: subjects()[-1:] == ["before rotation"])
    state = tmp_path / "logrotate.state"
    done = subprocess.run(["logrotate", "--force", "--state", str(state),
                           "/etc/logrotate.d/mailspy"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    rotated = LOGS / "mailspy.1"
    assert "before rotation" in rotated.read_text()
    assert SUMMARY.stat().st_size == 0
    # without systemd the snippet's postrotate does nothing: send what it sends
    output = service.signal(signal.SIGUSR1, "log files reopened")
    assert "cannot reopen" not in output
    send(postfix, "after rotation")
    eventually(lambda: subjects() == ["after rotation"])
    assert "after rotation" not in rotated.read_text()
    assert SUMMARY.stat().st_uid == pwd.getpwnam("mailspy").pw_uid


# -- purged ---------------------------------------------------------------------------


def test_a_purge_leaves_the_machine_as_it_was(installed: machine.Installation) -> None:
    for service in RUNNING:  # as the package's prerm stops it under systemd
        service.stop()
    output = installed.purge()
    assert "mailspy" in output
    after = machine.snapshot()
    before = installed.before  # type: ignore[attr-defined]
    changed = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    assert changed == {}
