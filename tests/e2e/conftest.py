"""Fixtures for end-to-end tests against a private Postfix or sendmail on 127.0.0.1.

Every instance and milter a test starts is stopped at teardown, by `postfix -c DIR stop`,
by sendmail's process group or by pid, also when the test fails. Tests marked `postfix`
are skipped when Postfix is not installed, tests marked `sendmail` when no private
sendmail can run (not root, no unshare); set MAILSPY_E2E_KEEP=1 to keep each instance's
folder for a post-mortem.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from .mta import MTA, MTA_PARAMS, MTAFactory, hook_kwargs
from .postfix import (
    MilterFactory,
    MilterProcess,
    PostfixFactory,
    PrivatePostfix,
    free_port,
    null_milter_argv,
    postfix_available,
    public_tmpdir,
)
from .sendmail import PrivateSendmail, sendmail_unavailable

SKIP_REASON = "postfix is not installed (apt-get install postfix, or `make deps`)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip, not fail, the `postfix` tests on a machine without Postfix and the `sendmail`
    tests where no private sendmail can run."""
    reasons = {"postfix": None if postfix_available() else SKIP_REASON,
               "sendmail": sendmail_unavailable()}
    for item in items:
        for marker, reason in reasons.items():
            if reason and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=reason))


INSTANCES = pytest.StashKey[list[PrivatePostfix]]()
SENDMAILS = pytest.StashKey[list[PrivateSendmail]]()
MILTERS = pytest.StashKey[list[MilterProcess]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach each instance's maillog tail and each milter's output to a failed test's
    report: most e2e failures are explained there (milter-reject, a traceback...)."""
    report = yield
    if report.when == "call" and report.failed:
        for instance in item.stash.get(INSTANCES, []):
            title = f"maillog of the Postfix on port {instance.smtp_port}"
            report.sections.append((title, instance.maillog_tail(60)))
        for sendmail in item.stash.get(SENDMAILS, []):
            title = f"log of the sendmail on port {sendmail.smtp_port}"
            report.sections.append((title, sendmail.maillog_tail(60)))
        for milter in item.stash.get(MILTERS, []):
            title = f"output of milter pid {milter.pid} ({milter.postfix_spec})"
            report.sections.append((title, milter.output()[-4000:]))
    return report


def _stop_all(items: list[PrivatePostfix] | list[PrivateSendmail] | list[MilterProcess]
              ) -> None:
    """Stop every item, newest first, even when one of them fails to stop."""
    errors = []
    for item in reversed(items):
        try:
            item.stop()
        except Exception as err:  # stop the rest, then report the first failure
            errors.append(err)
    if errors:
        raise errors[0]


@pytest.fixture
def postfix_factory(request: pytest.FixtureRequest) -> Iterator[PostfixFactory]:
    """Start PrivatePostfix(milter, **kwargs) instances; all are stopped at teardown."""
    if not postfix_available():
        pytest.skip(SKIP_REASON)
    yield from _instances(request, PrivatePostfix, INSTANCES)


@pytest.fixture
def sendmail_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., PrivateSendmail]]:
    """Start PrivateSendmail(milter, **kwargs) instances (milter in sendmail's S= form);
    all are stopped at teardown."""
    reason = sendmail_unavailable()
    if reason:
        pytest.skip(reason)
    yield from _instances(request, PrivateSendmail, SENDMAILS)


def _instances(request: pytest.FixtureRequest, kind: Any, key: Any) -> Iterator[Any]:
    """A factory of `kind(milter, **kwargs)` instances, listed under `key` for the
    failure report; every one is stopped at teardown, a failed start too."""
    started: list[Any] = []
    request.node.stash[key] = started
    keep = os.environ.get("MAILSPY_E2E_KEEP") == "1"

    def start(milter: str | None = None, **kwargs: Any) -> Any:
        instance = kind(milter, keep_dir=keep, **kwargs)
        started.append(instance)  # before start(): a failed start still gets stopped
        return instance.start()

    yield start
    _stop_all(started)


@pytest.fixture(params=MTA_PARAMS)
def mta_name(request: pytest.FixtureRequest) -> str:
    """"postfix" and "sendmail": a test asking for it runs once behind each."""
    return request.param


@pytest.fixture
def mta_factory(request: pytest.FixtureRequest, mta_name: str) -> MTAFactory:
    """mta_factory(milter, **options) starts the MTA of this run in front of a running
    MilterProcess; options go to PrivatePostfix or PrivateSendmail."""
    factory = request.getfixturevalue(f"{mta_name}_factory")

    def start(milter: MilterProcess, **options: Any) -> MTA:
        return factory(**hook_kwargs(mta_name, milter, options))

    return start


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A 0755 folder in /tmp for unix sockets the `postfix` user must reach (tmp_path is
    0700). milter_factory depends on it, so it outlives the milters."""
    path = public_tmpdir("mailspy-sock-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def run_socket_dir() -> Iterator[Path]:
    """A 0755 folder under /run for unix sockets sendmail connects to: it refuses a socket
    anywhere below a world-writable directory such as /tmp ("unsafe"). milter_factory
    depends on it, so it outlives the milters (a milter whose socket file is gone takes
    seconds to stop)."""
    if os.access("/run", os.W_OK):
        path = Path(tempfile.mkdtemp(prefix="mailspy-e2e-", dir="/run"))
        path.chmod(0o755)
    else:  # not root: no sendmail test runs, the milters still need the fixture
        path = public_tmpdir("mailspy-sock-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def milter_factory(
    request: pytest.FixtureRequest, tmp_path: Path, socket_dir: Path, run_socket_dir: Path
) -> Iterator[MilterFactory]:
    """Start milter processes (argv, port= or socket_path=); their output goes to a file
    under tmp_path; all are stopped by pid at teardown."""
    started: list[MilterProcess] = []
    request.node.stash[MILTERS] = started

    def start(argv: Sequence[str], **kwargs: Any) -> MilterProcess:
        kwargs.setdefault("output", tmp_path / f"milter-{len(started)}.out")
        milter = MilterProcess(list(argv), **kwargs)
        started.append(milter)
        return milter.start()

    yield start
    _stop_all(started)


@pytest.fixture
def null_milter_tcp(milter_factory: MilterFactory, tmp_path: Path) -> MilterProcess:
    """The null milter on a free TCP port; it appends "QUEUEID NRCPT" per message to
    tmp_path/eom.txt."""
    port = free_port()
    return milter_factory(null_milter_argv(f"inet:{port}@127.0.0.1", tmp_path / "eom.txt"),
                          port=port)
