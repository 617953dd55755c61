"""mailspy: a milter that records mail by rules."""

from __future__ import annotations


def version() -> str:
    """The installed version, or "(source)" when run from a checkout. importlib.metadata
    is imported here, not with the package: it takes longer than many commands run."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("mailspy")
    except PackageNotFoundError:
        return "(source)"
