"""Tunable behaviour of the emulated ARM layer (set by ``python -m emulator`` flags)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ArmSettings:
    apim_create_seconds: float = 1.0  # how long an APIM service create (and purge) runs
    page_size: int = 100  # items per page of every ARM list (``nextLink`` beyond)
    api_write_seconds: float = 0.0  # how long a write to an API holds it (overlapping writes -> 409)
    retry_after_ms: int = 100  # polling delay the LRO headers ask for
