"""Imports ``prmlab reconcile`` will need later, done while this process would only wait —
for the local emulator to start, for API Management's create — instead of on the critical path.

Where it sits: ``engine.reconcile`` builds a ``Warmup`` before ``TargetSettings.for_lab`` and
gives ``Warmup.begin`` to it as ``while_starting`` (``local.start`` calls it right after spawning
a new emulator, before polling it; with an emulator already running, ``begin`` is called right
after). Measured on the default lab (``benchmarks/e2e_local.py``, ``python -X importtime``):

1. ``begin`` imports, in the calling thread, the SDKs and providers the read opens
   (``target.open_clients``, ``providers.providers_for``; about half a second of CPU) — during a
   new emulator's own second of imports, otherwise after it;
2. then starts one daemon thread for what the main thread needs only later:

   * Microsoft Graph's models: the first Graph entity the msgraph SDK deserializes (the app
     registration a create returns) imports every ``Entity`` subclass
     (``Entity.get_field_deserializers``: about 1,200 modules, 1-2 s of CPU). Unwarmed, that
     happens inside the apply's event loop and holds every concurrent write up, on the critical
     path (API Management -> the Entra app -> the container app). Warmed, it overlaps the
     emulator's start, the read and API Management's create;
   * the verifier (``orchestrator.verify``: the ``mcp`` SDK and its pydantic models, about a
     second of CPU), when a verification follows: otherwise imported after the apply, ahead of
     the test users and the checks.

Import locks: two threads importing the same package from different entry points can deadlock
(CPython raises ``_DeadlockError`` on a cycle of module locks). The thread imports only modules
the main thread does not import while it runs: msgraph's generated models (whose module level
imports nothing but kiota, loaded by step 1 — their cross references are ``TYPE_CHECKING``-only
or inside functions, so they form no cycle) and the verifier, which ``engine`` imports only after
``join``. Nothing here talks to a service, prints or changes state; an import that fails is
left for the code that needs it to report.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
import warnings

# What the read imports first (function-level imports of ``target.open_clients`` /
# ``target._graph_client`` / ``providers.providers_for``): imported by ``begin`` itself.
SDK_MODULES = (
    "azure.mgmt.apimanagement.aio",
    "azure.mgmt.authorization.aio",
    "azure.mgmt.resource.resources.aio",
    "azure.core.pipeline.transport._aiohttp",
    "httpx",
    "kiota_authentication_azure.azure_identity_authentication_provider",
    "kiota_http.middleware.options",
    "msgraph",
    "msgraph_core",
    # the models' module-level imports (kiota), so that the thread's models need nothing else
    "msgraph.generated.models.entity",
    "orchestrator.pacing_policy",
    "orchestrator.local_credential",
    "orchestrator.providers",
    "orchestrator.providers.apim",
    "orchestrator.providers.apim_apis",
    "orchestrator.providers.apim_logging",
    "orchestrator.providers.apim_products",
    "orchestrator.providers.apim_values",
    "orchestrator.providers.arm",
    "orchestrator.providers.containers",
    "orchestrator.providers.entra",
    "orchestrator.providers.entra_grants",
    "orchestrator.providers.entra_principals",
    "orchestrator.providers.identity",
    "orchestrator.providers.monitoring",
    "orchestrator.providers.rbac",
    "orchestrator.providers.storage",
)

# The Graph entities the providers and the test users deserialize (each pulls in ``Entity``'s).
GRAPH_MODELS = (
    ("msgraph.generated.models.application", "Application"),
    ("msgraph.generated.models.service_principal", "ServicePrincipal"),
    ("msgraph.generated.models.federated_identity_credential", "FederatedIdentityCredential"),
    ("msgraph.generated.models.o_auth2_permission_grant", "OAuth2PermissionGrant"),
    ("msgraph.generated.models.user", "User"),
)

VERIFIER_MODULES = ("orchestrator.verify.after_reconcile",)

WARMUP_SWITCH_INTERVAL_S = 0.0005


def _import(names: tuple[str, ...]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # as target._quiet_graph_imports
        for name in names:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)


def graph_models() -> None:
    """Import the Graph models the lab's entities deserialize into, as the first parse would."""
    for module, name in GRAPH_MODELS:
        with contextlib.suppress(ImportError, AttributeError):
            getattr(importlib.import_module(module), name)().get_field_deserializers()


class Warmup:
    """One command's warm-up: ``begin`` (once; idempotent), then ``join`` before the verifier."""

    def __init__(self, *, graph: bool, verify: bool) -> None:
        self.graph = graph
        self.verify = verify
        self.thread: threading.Thread | None = None
        self._begun = False

    def begin(self) -> None:
        if self._begun:
            return
        self._begun = True
        _import(SDK_MODULES)
        if self.graph or self.verify:
            self.thread = threading.Thread(target=self._later, name="prmlab-warmup", daemon=True)
            self.thread.start()

    def _later(self) -> None:
        # While this thread imports (pure Python, holding the GIL), the main thread's event loop
        # waits for the GIL each time it wakes up for I/O: up to the switch interval (5 ms by
        # default), hundreds of times in a read. A shorter interval for the warm-up's duration
        # gives the loop the GIL back sooner; the default comes back when the imports are done.
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, WARMUP_SWITCH_INTERVAL_S))
        try:
            # Whatever goes wrong here is the main thread's to meet and report when it imports
            # the same module itself: this thread must never print a traceback of its own.
            with contextlib.suppress(Exception):
                if self.graph:
                    graph_models()
                if self.verify:
                    _import(VERIFIER_MODULES)
        finally:
            sys.setswitchinterval(interval)

    def join(self) -> None:
        """Wait for the thread (before importing the verifier: no two threads import it)."""
        if self.thread is not None:
            self.thread.join()
