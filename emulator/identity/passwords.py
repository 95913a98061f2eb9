"""Test users' passwords: stored as scrypt hashes, checked in constant time (sign-in page).

Where it sits: the Graph layer hashes ``passwordProfile.password`` when a user is created or
its password changed (``POST``/``PATCH /users``) and stores only ``passwordProfile.passwordHash``
(Graph never returns a password, and the emulator never keeps one); the identity service's
sign-in page checks what the user typed against that hash. Exported to the Graph sub-app
through ``emulator.identity.__all__``.

Format: ``scrypt$<n>$<r>$<p>$<salt, base64url>$<key, base64url>`` (RFC 7914, 16-byte random
salt, 32-byte key; n=2**14, r=8, p=1: about 16 MB and tens of milliseconds per check). A check
against a missing or malformed hash still derives a key (from a fixed dummy hash), so the time
of a refusal does not tell whether the account has a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_N, _R, _P, _KEY = 2**14, 8, 1, 32
_PREFIX = "scrypt"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_KEY, maxmem=64 * 1024 * 1024
    )


def hash_password(password: str) -> str:
    """A new salted scrypt hash of ``password`` (the stored form)."""
    salt = secrets.token_bytes(16)
    return f"{_PREFIX}${_N}${_R}${_P}${_b64(salt)}${_b64(_derive(password, salt, _N, _R, _P))}"


def check_password(stored: str | None, given: str) -> bool:
    """Whether ``given`` is the password ``stored`` (a ``hash_password`` result) was made from."""
    parsed = _parse(stored) if stored else None
    n, r, p, salt, key = parsed or _DUMMY
    try:
        derived = _derive(given, salt, n, r, p)
    except (ValueError, MemoryError):  # parameters out of scrypt's range: a broken hash
        return False
    return hmac.compare_digest(derived, key) and parsed is not None


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _PREFIX:
        return None
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return None
    if not (2 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16) or len(key) != _KEY or not salt:
        return None
    return n, r, p, salt, key


_DUMMY = _parse(hash_password(secrets.token_urlsafe(16))) or (_N, _R, _P, b"-", b"-" * _KEY)
