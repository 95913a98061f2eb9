"""Imports a command will need, done while the local emulator starts (``local.start``'s
``while_starting``) instead of in the middle of the work.

Where it sits: ``engine.reconcile`` and ``prmlab verify`` pass ``for_command(...)`` to
``TargetSettings.for_lab``. The emulator starts as another process (about a second of its own
imports); this process only polls for it meanwhile. Two imports are worth moving there:

* Microsoft Graph's models: the first Graph entity the msgraph SDK deserializes imports every
  ``Entity`` subclass (``Entity.get_field_deserializers``: about 1,800 modules, 1-2 s of CPU on a
  quiet machine). Unwarmed, that happens when the first app registration is created, inside the
  apply's event loop, holding up every concurrent write;
* the verifier (the ``mcp`` SDK and its pydantic models), imported after the apply otherwise.

Nothing here talks to a service; an import that fails is left for the code that needs it to
report (``ImportError`` never escapes from here).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable


def graph_models() -> None:
    """The msgraph models the providers and the test users read (and every ``Entity``)."""
    from msgraph.generated.models.application import Application
    from msgraph.generated.models.federated_identity_credential import FederatedIdentityCredential
    from msgraph.generated.models.o_auth2_permission_grant import OAuth2PermissionGrant
    from msgraph.generated.models.service_principal import ServicePrincipal
    from msgraph.generated.models.user import User

    for model in (Application, ServicePrincipal, User, OAuth2PermissionGrant, FederatedIdentityCredential):
        model().get_field_deserializers()


def verifier() -> None:
    import orchestrator.verify.runner  # noqa: F401 - the import is the point


def for_command(*, graph: bool = True, verify: bool = False) -> Callable[[], None]:
    """What to import while the emulator starts: Graph's models, and the verifier if it runs."""

    def warm() -> None:
        with contextlib.suppress(ImportError):
            if graph:
                graph_models()
            if verify:
                verifier()

    return warm
