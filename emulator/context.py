"""What every emulator sub-app shares: the store, the state folder, the public URL,
the TLS material, fault settings, and a tiny in-process event bus.

Sub-apps (``arm``, ``graph``, ``identity``, ``gateway``, ``runner``) each expose
``routes(ctx) -> list[starlette.routing.BaseRoute]`` (and, where they run background
work, ``async def run(ctx)``); ``emulator.app`` mounts them. They talk to each other
only through the store (Azure wire shapes, see ``emulator.store``) and through events:
the ARM layer publishes ``Event("put"|"delete", kind, key)`` after every write, so the
gateway can open a port for a new APIM service and the runner can start a container app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from emulator.store import Store


@dataclass(frozen=True, slots=True)
class Event:
    action: Literal["put", "delete"]
    kind: str
    key: str


Listener = Callable[[Event], Awaitable[None]]


@dataclass(slots=True)
class Faults:
    """Fault injection, switchable per run (``/_emulator/faults``)."""

    latency_ms: float = 0.0
    throttle_rate: float = 0.0  # share of ARM/Graph calls answered 429
    error_rate: float = 0.0  # share answered 500/503
    replication_delay_s: float = 0.0  # a new Graph application stays invisible this long
    seed: int | None = None


@dataclass(slots=True)
class EmulatorContext:
    state_dir: Path
    store: Store
    base_url: str  # https://127.0.0.1:<port>, no trailing slash
    ca_file: Path  # PEM of the CA that signed every certificate the emulator serves
    cert_file: Path  # server certificate chain for 127.0.0.1 / localhost
    key_file: Path
    tenant_id: str
    subscription_id: str
    faults: Faults = field(default_factory=Faults)
    _listeners: list[Listener] = field(default_factory=list)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def publish(self, event: Event) -> None:
        for listener in list(self._listeners):
            await listener(event)

    @property
    def identity_base(self) -> str:
        """Base of the Entra-like identity service, the local ``login.microsoftonline.com``."""
        return f"{self.base_url}/login"

    def issuer(self, tenant: str | None = None) -> str:
        return f"{self.identity_base}/{tenant or self.tenant_id}/v2.0"
