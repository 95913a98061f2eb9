"""Tunable behaviour of the identity service: lifetimes, the headless sign-in switch, the clock.

Where it sits: ``service.IdentityService`` holds one ``IdentitySettings``; every handler reads
lifetimes and the time from it, so tests can shorten lifetimes or move the clock forward
instead of sleeping. ``headless_sign_in`` is the non-interactive path (``login_hint`` naming a
test user signs in and consents without a page); it is on in the emulator by default and can be
switched at run time (``PUT /_emulator/identity/settings {"headlessSignIn": false}``), and the
choice is persisted in the store (kind ``identity/settings``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    headless_sign_in: bool = True
    code_lifetime_s: int = 300  # authorization codes (OAuth 2.1: short-lived)
    access_token_lifetime_s: int = 3600
    refresh_token_lifetime_s: int = 86_400
    mi_token_lifetime_s: int = 86_400  # managed-identity tokens live 24 h in Azure
    transaction_lifetime_s: int = 900  # an authorize request waiting on the sign-in/consent pages
    clock: Clock = field(default=time.time, compare=False)

    def now(self) -> int:
        return int(self.clock())
