"""mailspy: a milter that records mail by rules."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _installed


def version() -> str:
    """The installed version, or "(source)" when run from a checkout."""
    try:
        return _installed("mailspy")
    except PackageNotFoundError:
        return "(source)"
