"""Providers for the service principals and federated identity credentials of the lab's Entra
apps (``entra`` holds the app registrations and the Graph helpers both use).

A service principal carries the ownership tag like its app; a federated credential belongs to
its app's owner. Both wait (bounded) for a just-created app to become visible (replication).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.errors import PermanentError, TemporaryError
from orchestrator.kinds import Kind
from orchestrator.providers.base import (
    diff_owned,
    graph_mark,
    graph_owners,
)
from orchestrator.providers.common import (
    Context,
    Key,
    assign,
    delete_ignoring_missing,
    gather,
    get_or_none,
    key_of,
    keyed,
)
from orchestrator.providers.entra import (
    GraphProvider,
    ensure_known,
    filter_tag,
    graph_query,
    has_all,
    pages,
    purge_deleted,
    same_set,
    wait_visible,
)
from orchestrator.providers.errors import translating
from orchestrator.resolve import substitute
from orchestrator.resource import Actual, Desired, FieldChange

if TYPE_CHECKING:
    from orchestrator.spec.models import EntraApp, FederatedCredential


def _app_key(address: str, ctx: Context) -> str:
    """The unique name of the app a federated credential belongs to (its address names the app's
    key: ``federated_credential.<app>.<name>``)."""
    parts = address.split(".")
    if len(parts) >= 2:
        return ctx.app_unique_names.get(parts[1], parts[1])
    raise PermanentError(address, "cannot tell which app registration this belongs to")


class ServicePrincipalProvider(GraphProvider):
    kind = Kind.SERVICE_PRINCIPAL

    def desired(self, address: str, spec: EntraApp, resolved: Mapping[str, Any]) -> Desired:
        unique = spec.unique_name  # a service principal's spec is its app
        props = {"@app": unique, "tags": [graph_mark(self.ctx.lab)]}
        return Desired(address, self.kind, unique, props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        return diff_owned(desired.properties, actual.properties, compare={"tags": has_all})

    def _actual(self, sp: Any, unique: str) -> Actual:
        owned = graph_mark(self.ctx.lab) in (sp.tags or [])
        props = {"@app": unique, "tags": list(sp.tags or [])}
        outputs = {"object_id": sp.id, "client_id": sp.app_id, "principal_id": sp.id}
        return Actual(
            "", self.kind, unique, props, outputs, owned, sp.id, owners=graph_owners(sp.tags, self.ctx.lab)
        )

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        apps = {str(a.app_id): str(a.unique_name) for a in await self.owned_apps()}
        with translating("entra service principals"):
            first = await self.graph.service_principals.get(
                request_configuration=graph_query(
                    "msgraph.generated.service_principals.service_principals_request_builder",
                    "ServicePrincipalsRequestBuilder",
                    filter=filter_tag(self.ctx.lab),
                    top=999,
                )
            )
            sps = await pages(first, self.graph.service_principals.with_url)
        found: list[tuple[Key, Actual]] = []
        seen: set[str] = set()
        for sp in sps:
            unique = apps.get(str(sp.app_id), str(sp.app_id))
            seen.add(unique.lower())
            found.append((key_of(unique), self._actual(sp, unique)))
        by_unique = {v.lower(): k for k, v in apps.items()}
        for desired in addresses.values():
            if desired is None or desired.name.lower() in seen:
                continue
            app_id = by_unique.get(desired.name.lower())
            if app_id is None:
                continue  # the app does not exist (or is not ours): nothing to look for
            builder = keyed(self.graph, "service_principals_with_app_id", app_id)
            other = await get_or_none(desired.address, builder.get)
            if other is not None:
                found.append((key_of(desired.name), self._actual(other, desired.name)))
        return assign(self.kind, addresses, found, lambda d: key_of(d.name))

    async def create(self, desired: Desired) -> Actual:
        from msgraph.generated.models.service_principal import ServicePrincipal

        app = await self.visible_app(desired.name, desired.address)
        by_app_id = keyed(self.graph, "service_principals_with_app_id", str(app.app_id))
        # Idempotent: a retry after a lost response finds the principal it created.
        existing = await get_or_none(desired.address, by_app_id.get)
        if existing is not None:
            return await self.update(desired, self._actual(existing, desired.name))
        body = ServicePrincipal(app_id=app.app_id, tags=list(desired.properties["tags"]))

        async def post() -> Any:
            try:
                with translating(desired.address, replication=True):
                    return await self.graph.service_principals.post(body)
            except PermanentError as exc:
                # Graph answers 400 "does not reference a valid application" while replicating.
                if "valid application" in exc.cause or "does not exist" in exc.cause:
                    return None
                raise
            except TemporaryError as exc:
                if "conflict" in exc.cause:  # created meanwhile (a concurrent or lost request)
                    return await get_or_none(desired.address, by_app_id.get)
                if "replication" in exc.cause:
                    return None
                raise

        sp = await wait_visible(desired.address, post)
        self.ctx.memo.clear()
        return dataclasses.replace(self._actual(sp, desired.name), address=desired.address, owned=True)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        from msgraph.generated.models.service_principal import ServicePrincipal

        tags = sorted(set(actual.properties.get("tags") or []) | set(desired.properties["tags"]))
        with translating(desired.address):
            await self.graph.service_principals.by_service_principal_id(str(actual.handle)).patch(
                ServicePrincipal(tags=tags)
            )
        self.ctx.memo.clear()
        props = {**actual.properties, "tags": tags}
        return dataclasses.replace(actual, address=desired.address, properties=props, owned=True)

    async def delete(self, actual: Actual) -> None:
        object_id = str(actual.handle)
        builder = self.graph.service_principals.by_service_principal_id(object_id)
        await delete_ignoring_missing(actual.address, builder.delete)
        await purge_deleted(self.graph, object_id, actual.address)
        self.ctx.memo.clear()


class FederatedCredentialProvider(GraphProvider):
    kind = Kind.FEDERATED_CREDENTIAL

    def desired(self, address: str, spec: FederatedCredential, resolved: Mapping[str, Any]) -> Desired:
        props: dict[str, Any] = {
            "@app": _app_key(address, self.ctx),
            "issuer": substitute(spec.issuer, resolved),
            "subject": substitute(spec.subject, resolved),
            "audiences": list(spec.audiences) or ["api://AzureADTokenExchange"],
        }
        if spec.description:
            props["description"] = spec.description
        return Desired(address, self.kind, spec.name, props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        return diff_owned(desired.properties, actual.properties, compare={"audiences": same_set})

    def _actual(self, fic: Any, unique: str, app_object_id: str, owned: bool) -> Actual:
        props = {
            "@app": unique,
            "@app_object_id": app_object_id,
            "issuer": fic.issuer,
            "subject": fic.subject,
            "audiences": list(fic.audiences or []),
            "description": fic.description,
        }
        return Actual("", self.kind, str(fic.name), props, {"id": fic.id}, owned, fic.id)

    async def _list(self, app_object_id: str) -> list[Any]:
        builder = self.graph.applications.by_application_id(app_object_id).federated_identity_credentials

        async def load() -> list[Any]:
            with translating(f"federated credentials of {app_object_id}"):
                return await pages(await builder.get(), builder.with_url)

        return await self.ctx.memo.get(f"fic:{app_object_id}", load)

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        found: list[tuple[Key, Actual]] = []
        apps = await self.owned_apps()
        lists = await gather(self.ctx, [str(a.id) for a in apps], self._list)
        for app, fics in zip(apps, lists, strict=True):
            unique = str(app.unique_name)
            for fic in fics:
                found.append((key_of(unique, str(fic.name)), self._actual(fic, unique, str(app.id), True)))
        return assign(self.kind, addresses, found, lambda d: key_of(str(d.properties["@app"]), d.name))

    def _model(self, desired: Desired, *, with_name: bool) -> Any:
        from msgraph.generated.models.federated_identity_credential import FederatedIdentityCredential

        p = desired.properties
        return FederatedIdentityCredential(
            name=desired.name if with_name else None,
            issuer=p["issuer"],
            subject=p["subject"],
            audiences=list(p["audiences"]),
            description=p.get("description"),
        )

    async def create(self, desired: Desired) -> Actual:
        ensure_known(desired)
        unique = str(desired.properties["@app"])
        app = await self.visible_app(unique, desired.address)
        builder = self.graph.applications.by_application_id(str(app.id)).federated_identity_credentials

        async def existing() -> Any:
            with translating(desired.address):
                fics = await pages(await builder.get(), builder.with_url)
            return next((f for f in fics if str(f.name).lower() == desired.name.lower()), None)

        # Idempotent: a retry after a lost response finds the credential it created.
        found = await existing()
        if found is not None:
            return await self.update(desired, self._actual(found, unique, str(app.id), True))

        async def post() -> Any:
            try:
                with translating(desired.address, replication=True):
                    return await builder.post(self._model(desired, with_name=True))
            except TemporaryError as exc:
                if "conflict" in exc.cause:
                    return await existing()
                if "replication" in exc.cause:
                    return None
                raise

        fic = await wait_visible(desired.address, post)
        self.ctx.memo.clear()
        return dataclasses.replace(self._actual(fic, unique, str(app.id), True), address=desired.address)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        ensure_known(desired)
        app_object_id = str(actual.properties["@app_object_id"])
        item = self.graph.applications.by_application_id(app_object_id).federated_identity_credentials
        with translating(desired.address):
            await item.by_federated_identity_credential_id(str(actual.handle)).patch(
                self._model(desired, with_name=False)
            )
        self.ctx.memo.clear()
        props = {
            **actual.properties,
            **{k: v for k, v in desired.properties.items() if not k.startswith("@")},
        }
        return dataclasses.replace(actual, address=desired.address, properties=props)

    async def delete(self, actual: Actual) -> None:
        app_object_id = str(actual.properties["@app_object_id"])
        item = self.graph.applications.by_application_id(app_object_id).federated_identity_credentials
        await delete_ignoring_missing(
            actual.address, item.by_federated_identity_credential_id(str(actual.handle)).delete
        )
        self.ctx.memo.clear()
