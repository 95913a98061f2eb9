"""Tokens signed with a running emulator's identity keys (for Graph ``/me`` tests).

Builds an ``EmulatorContext`` over the emulator's state folder (its own scratch store) and
signs with ``emulator.identity.keys.sign`` — the same key the identity service uses, so the
emulator accepts the token exactly as one it issued.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from emulator.context import EmulatorContext
from emulator.identity import keys
from emulator.identity.wellknown import GRAPH_APP_ID
from emulator.store import Store
from tests.support.emulator import RunningEmulator


def context_for(emu: RunningEmulator, scratch: Path) -> EmulatorContext:
    return EmulatorContext(
        state_dir=emu.state_dir,
        store=Store(scratch / "scratch.sqlite"),
        base_url=emu.base_url,
        ca_file=emu.ca_file,
        cert_file=emu.state_dir / "server.pem",
        key_file=emu.state_dir / "server-key.pem",
        tenant_id=emu.tenant_id,
        subscription_id=emu.subscription_id,
    )


def user_token(emu: RunningEmulator, scratch: Path, oid: str, scopes: str = "User.Read", **extra: Any) -> str:
    ctx = context_for(emu, scratch)
    now = int(time.time())
    claims = {
        "iss": ctx.issuer(),
        "aud": GRAPH_APP_ID,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "oid": oid,
        "sub": oid,
        "tid": emu.tenant_id,
        "scp": scopes,
        "idtyp": "user",
        "ver": "2.0",
        **extra,
    }
    try:
        return keys.sign(ctx, claims)
    finally:
        ctx.store.close()
