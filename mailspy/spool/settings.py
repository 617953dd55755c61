"""How copies are delivered and retried: the numbers `mailspy run` takes as options.

Apart from the delivery code so that the command line can show the defaults
without loading every action."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DeliverySettings"]


@dataclass(frozen=True)
class DeliverySettings:
    workers: int = 4
    per_target: int = 2
    pipe_timeout: float = 30.0
    retry_base: float = 60.0
    retry_max: float = 3600.0
    max_attempts: int = 10
    max_age: float = 5 * 86400.0
    scan_interval: float = 30.0
