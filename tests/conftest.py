"""Fixtures every test directory shares."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def fs(fs):
    """pyfakefs's root directory is world-writable; a real one is not, and mailspy
    refuses to write below a directory other users can change."""
    os.chmod("/", 0o755)
    return fs
