"""A Harness per test (tmp_path), or one per module for hypothesis's many examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.robustness.harness import Harness, harness_in_tempdir


@pytest.fixture
def harness(tmp_path: Path):
    recorder = Harness(tmp_path / "recorder")
    yield recorder
    recorder.close()


@pytest.fixture(scope="module")
def shared_harness():
    """One Recorder for every example of a module: each check is incremental."""
    yield from harness_in_tempdir()
