"""Tokens signed with the emulator's identity keys (for Graph ``/me`` tests, and ``arm_bearer`` for
tests that run sub-apps in-process, without a running emulator to sign in to).

Builds an ``EmulatorContext`` over the emulator's state folder (its own scratch store) and
signs with ``emulator.identity.keys.sign`` — the same key the identity service uses, so the
emulator accepts the token exactly as one it issued.
"""

from __future__ import annotations

import time
import uuid
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


def arm_bearer(ctx: EmulatorContext, **claims: Any) -> dict[str, str]:
    """``Authorization`` header with an app token for ARM signed by ``ctx``'s identity service, as
    its token endpoint would issue it (the ARM check still verifies it fully)."""
    now = int(time.time())
    body = {
        "aud": "https://management.azure.com/",
        "iss": ctx.issuer(),
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "tid": ctx.tenant_id,
        "oid": str(uuid.uuid4()),
        "azp": str(uuid.uuid4()),
        "idtyp": "app",
        "ver": "2.0",
        **claims,
    }
    return {"Authorization": f"Bearer {keys.sign(ctx, body)}"}


def graph_bearer(ctx: EmulatorContext, **claims: Any) -> dict[str, str]:
    """The same for Microsoft Graph (``aud`` = Graph's app id)."""
    return arm_bearer(ctx, aud=GRAPH_APP_ID, **claims)
