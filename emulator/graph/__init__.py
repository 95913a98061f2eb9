"""Emulator sub-app: Microsoft Graph v1.0 (applications, servicePrincipals, federated identity
credentials, users, oauth2PermissionGrants, ``/me``).

Modules: ``router`` (the ``/v1.0/...`` endpoint), ``auth`` (who may call), ``authz`` (what a
caller may write: Graph's permissions per operation), ``entities`` (builders/validation and the
store shapes other sub-apps read — see its docstring), ``odata`` (``$filter`` / ``$select``),
``errors`` (Graph's OData error envelope).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from emulator.context import EmulatorContext
from emulator.graph.router import GraphRouter

__all__ = ["routes"]


def routes(ctx: EmulatorContext, page_size: int = 100) -> list[BaseRoute]:
    from emulator.graph.entities import hash_stored_passwords

    hash_stored_passwords(ctx.store)  # a state folder from before passwords were hashed
    router = GraphRouter(ctx, page_size)
    return [Route("/v1.0/{rest:path}", router.endpoint, methods=["GET", "POST", "PATCH", "DELETE", "PUT"])]
