"""Providers for APIM named values and backends (children of the service; ``apim.ApimChild``).

Named values carry the ownership mark as an APIM tag; a secret one is compared by a salted digest
kept in another tag, never read back. Backends carry the mark in their ``description``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orchestrator.errors import PermanentError
from orchestrator.kinds import Kind
from orchestrator.providers.apim import (
    ApimChild,
    arm_id,
    base_props,
    rg_and_service,
    service_of,
)
from orchestrator.providers.base import (
    description_owned,
    diff_owned,
    digest_matches,
    find_digest,
    json_body,
    named_value_tag,
    secret_digest_tag,
    wire,
    with_mark,
)
from orchestrator.providers.common import (
    collect,
    get_or_none,
)
from orchestrator.providers.errors import translating
from orchestrator.resolve import substitute
from orchestrator.resource import UNKNOWN, Actual, Desired, FieldChange, Secret

if TYPE_CHECKING:
    from orchestrator.spec.models import Backend, NamedValue


class NamedValueProvider(ApimChild):
    kind = Kind.NAMED_VALUE
    operations_attr = "named_value"

    def desired(self, address: str, spec: NamedValue, resolved: Mapping[str, Any]) -> Desired:
        lab = self.ctx.lab
        name = address.rsplit(".", 1)[-1]
        props = base_props(self.ctx.rg, service_of(self.ctx))
        value = substitute(spec.value, resolved)
        key_vault = spec.key_vault
        # A Key Vault reference is always a secret named value in APIM.
        secret = spec.secret or isinstance(value, Secret) or key_vault is not None
        if secret and isinstance(value, str):
            value = Secret(value)
        props.update(
            {
                "properties.displayName": spec.display_name or name,
                "properties.secret": secret,
                "properties.tags": [named_value_tag(lab)] if lab else [],
            }
        )
        if spec.tags:
            props["properties.tags"] = [*props["properties.tags"], *spec.tags]
        if key_vault is not None:
            props["properties.keyVault.secretIdentifier"] = substitute(key_vault.secret_id, resolved)
            identity = key_vault.identity
            if identity:
                # The spec names the identity by key; its client id is read when writing.
                identities = self.ctx.lab_spec.managed_identities if self.ctx.lab_spec is not None else {}
                mi_name = str(identities[identity].name) if identity in identities else str(identity)
                props["@kv_identity_id"] = arm_id(
                    self.ctx, "Microsoft.ManagedIdentity/userAssignedIdentities", mi_name
                )
        else:
            props["properties.value"] = value
        return Desired(address, self.kind, name, props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        want = dict(desired.properties)
        value = want.pop("properties.value", None)
        want_tags = want.pop("properties.tags", [])
        changes = list(diff_owned(want, actual.properties))
        have_tags = [
            t for t in actual.properties.get("properties.tags") or [] if not t.startswith("prmlab-sha256-")
        ]
        if sorted(want_tags) != sorted(have_tags) and not set(want_tags) <= set(have_tags):
            changes.append(FieldChange("properties.tags", have_tags, want_tags))
        if value is UNKNOWN:
            changes.append(
                FieldChange("properties.value", actual.properties.get("properties.value"), UNKNOWN)
            )
        elif isinstance(value, Secret):
            digest = actual.properties.get("@digest")
            if not isinstance(digest, str) or not digest_matches(digest, value.reveal()):
                changes.append(FieldChange("properties.value", Secret("?"), value))
        elif value is not None and value != actual.properties.get("properties.value"):
            old = actual.properties.get("properties.value")
            if actual.properties.get("properties.secret"):
                old = Secret("?")
            changes.append(FieldChange("properties.value", old, value))
        return tuple(sorted(changes, key=lambda c: c.path))

    async def create(self, desired: Desired) -> Actual:
        identity_id = desired.properties.get("@kv_identity_id")
        if isinstance(identity_id, str):
            from orchestrator.providers.identity import MANAGED_IDENTITY

            resources = self.ctx.clients.resources
            identity = await get_or_none(
                desired.address,
                lambda: resources.resources.get_by_id(identity_id, api_version=MANAGED_IDENTITY.api_version),
            )
            client_id = (
                (wire(identity).get("properties") or {}).get("clientId") if identity is not None else None
            )
            if not client_id:
                raise PermanentError(desired.address, f"managed identity {identity_id} does not exist")
            desired = Desired(
                desired.address,
                desired.kind,
                desired.name,
                {**desired.properties, "properties.keyVault.identityClientId": client_id},
            )
        return await super().create(desired)

    def body(self, desired: Desired) -> dict[str, Any]:
        body = super().body(desired)
        value = desired.properties.get("properties.value")
        if isinstance(value, Secret):
            tags = list(body["properties"].get("tags") or [])
            body["properties"]["tags"] = [*tags, secret_digest_tag(value.reveal())]
        return body

    def actual_from(self, item: Any, rg: str, service: str, lab: str) -> Actual:
        body = wire(item)
        p = body.get("properties") or {}
        tags = list(p.get("tags") or [])
        secret = bool(p.get("secret"))
        props: dict[str, Any] = {
            **base_props(rg, service),
            "properties.displayName": p.get("displayName"),
            "properties.secret": secret,
            "properties.tags": tags,
            "@digest": find_digest(tags),
        }
        if (p.get("keyVault") or {}).get("secretIdentifier"):
            props["properties.keyVault.secretIdentifier"] = p["keyVault"]["secretIdentifier"]
        # A secret's value is never returned by a list: keep only what a plain value shows.
        props["properties.value"] = None if secret else p.get("value")
        owned = bool(lab) and named_value_tag(lab) in tags
        return Actual("", self.kind, str(item.name), props, {}, owned, item.id)


class BackendProvider(ApimChild):
    kind = Kind.BACKEND
    operations_attr = "backend"

    async def list_backends(self, rg: str, service: str) -> list[Any]:
        """The service's backends (memoised: the API provider reads them too)."""
        return await self._list(rg, service)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        updated = await super().update(desired, actual)
        old, new = actual.properties.get("properties.url"), updated.properties.get("properties.url")
        if old and new and old != new:
            await self._follow(desired, str(old), str(new))
        return updated

    async def _follow(self, desired: Desired, old: str, new: str) -> None:
        """APIs of this lab whose ``serviceUrl`` is this backend's old URL move with it, in the
        same run (else they would keep forwarding to the old server until the next one)."""
        rg, service = rg_and_service(desired)
        apim = self.ctx.clients.apim
        apis = await collect(desired.address, lambda: apim.api.list_by_service(rg, service))
        for api in apis:
            p = wire(api).get("properties") or {}
            if p.get("serviceUrl") == old and description_owned(p.get("description"), self.ctx.lab):
                with translating(desired.address):
                    await apim.api.update(
                        rg, service, str(api.name), "*", json_body({"properties": {"serviceUrl": new}})
                    )
        self.ctx.memo.clear()

    def desired(self, address: str, spec: Backend, resolved: Mapping[str, Any]) -> Desired:
        props = base_props(self.ctx.rg, service_of(self.ctx))
        props.update(
            {
                "properties.url": substitute(spec.url, resolved),
                "properties.protocol": spec.protocol,
                "properties.description": with_mark(spec.description, self.ctx.lab),
                "properties.tls.validateCertificateChain": spec.tls.validate_certificate_chain,
                "properties.tls.validateCertificateName": spec.tls.validate_certificate_name,
            }
        )
        return Desired(address, self.kind, address.rsplit(".", 1)[-1], props)

    def actual_from(self, item: Any, rg: str, service: str, lab: str) -> Actual:
        p = wire(item).get("properties") or {}
        tls = p.get("tls") or {}
        props = {
            **base_props(rg, service),
            "properties.url": p.get("url"),
            "properties.protocol": p.get("protocol"),
            "properties.description": p.get("description"),
            "properties.tls.validateCertificateChain": tls.get("validateCertificateChain"),
            "properties.tls.validateCertificateName": tls.get("validateCertificateName"),
        }
        owned = description_owned(p.get("description"), lab)
        return Actual("", self.kind, str(item.name), props, {"url": p.get("url")}, owned, item.id)
