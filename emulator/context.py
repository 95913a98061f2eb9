"""What every emulator sub-app shares: the store, the state folder, the public URL,
the TLS material, fault settings, and a tiny in-process event bus.

Sub-apps (``arm``, ``graph``, ``identity``, ``gateway``, ``runner``, ``storage``) each expose
``routes(ctx) -> list[starlette.routing.BaseRoute]`` (and, where they run background
work, ``async def run(ctx)``); ``emulator.app`` mounts them. They talk to each other
through the store (Azure wire shapes, see ``emulator.store``), through events — the ARM
layer publishes ``Event("put"|"delete", kind, key)`` after every write, so the gateway can
open a port for a new APIM service and the runner can start a container app — through
what a sub-app registers here (the gateway's ``policy_checker``, the PUT-time gate ARM calls)
and through each other's declared public API (the ``__all__`` of the sub-app's package).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from emulator.store import Store


@dataclass(frozen=True, slots=True)
class Event:
    action: Literal["put", "delete"]
    kind: str
    key: str


Listener = Callable[[Event], Awaitable[None]]


class PolicyRejectedError(Exception):
    """APIM's answer to a bad policy: HTTP 400 with ``code`` and ``message`` (naming the line)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PolicyChecker(Protocol):
    """The PUT-time gate of policies (``emulator.gateway.check`` registers itself): each returns
    the XML as APIM stores it or raises ``PolicyRejectedError``."""

    def check_policy(self, xml: str, named_values: Collection[str], scope: str = "") -> str: ...

    def check_fragment(self, xml: str, named_values: Collection[str]) -> str: ...


@dataclass(slots=True)
class Faults:
    """Fault injection, switchable per run (``/_emulator/faults``)."""

    latency_ms: float = 0.0
    throttle_rate: float = 0.0  # share of ARM/Graph calls answered 429
    error_rate: float = 0.0  # share answered 500/503
    replication_delay_s: float = 0.0  # a new Graph application stays invisible this long
    # a new role assignment takes effect on the data planes this long after its createdOn
    # (emulator.rbac; ``python -m emulator`` defaults to emulator.rbac.DEFAULT_PROPAGATION_S)
    rbac_propagation_s: float = 0.0
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
    policy_checker: PolicyChecker | None = None  # set by the gateway sub-app's ``routes``
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
        """The v2 token issuer of ``tenant`` (default: the emulator's tenant)."""
        return f"{self.identity_base}/{tenant or self.tenant_id}/v2.0"

    def v1_issuer(self, tenant: str | None = None) -> str:
        """The v1 token issuer, the local ``https://sts.windows.net/<tenant>/``."""
        return f"{self.base_url}/sts/{tenant or self.tenant_id}/"
