"""What an APIM service holds that the lab does not own — the guard before the service goes.

Where it sits: deleting an API Management service deletes everything inside it, so
``ApimServiceProvider.delete_refusal`` (plan time: the plan says so before apply) and
``ApimServiceProvider.delete`` (apply time: checked again) ask ``foreign_children``; a resource
group's delete asks it for every owned service in the group (``ResourceGroupProvider``).

Every collection a service holds is listed (one list call each, concurrently): named values,
backends, APIs, products, subscriptions, loggers, policy fragments, certificates, users, groups.
An item is the lab's when it carries the lab's mark (named values: the APIM tag; backends, APIs,
loggers, products: the ``[prmlab-lab:<lab>]`` description mark; subscriptions: that mark in the
display name), or when APIM made it *for* a lab item (the
``Logger-Credentials--<id>`` named value that holds an owned logger's key). An item APIM itself
creates with every service is nobody's content (``is_builtin``), and so is a logger credential
APIM left behind (``is_logger_credential`` with no logger pointing at it):

* a logger created with a literal key (``credentials: {instrumentationKey: "<key>"}``) gets its
  key moved by APIM into a secret named value whose id APIM generates (24 hex digits) and whose
  display name is ``Logger-Credentials--<that id>``; the logger answers ``{{Logger-Credentials--
  <id>}}`` (Learn, "Integrate Azure API Management with Application Insights": "API Management
  configures a logger resource"; the ids and their shape: Azure/apiops, docs/guides/
  environment-overrides.md "Logger credentials with auto-generated named values", and the
  ``Logger-Credentials--61d…2b`` of https://github.com/Azure/apiops/issues/163). APIM makes a new
  one at every PUT of the logger and deletes none, not even with the logger
  (https://github.com/Azure/azure-powershell/issues/12228). So one referenced by an owned logger
  is the lab's, one referenced by another logger is that logger's owner's, and one no logger
  references is APIM's leftover, not anybody's content: a destroy that deleted the lab's logger
  first (or an earlier PUT of it) leaves exactly that, and it must not stop the service's delete;

* groups with ``builtIn: true`` (administrators, developers, guests — Learn: "How to create and
  use groups in Azure API Management": immutable system groups, every tier);
* user ``1`` (the administrator, the publisher email given at creation);
* subscription ``master`` ("Built-in all-access subscription"), and in classic tiers the
  administrator's subscriptions to the sample products;
* classic tiers (Developer, Basic, Standard, Premium): products ``starter`` and ``unlimited``
  and the ``echo-api`` sample API (Learn: "Create and publish a product": the default products);
* logger ``azuremonitor`` (type ``azureMonitor``), which APIM adds for Azure Monitor diagnostics.

Everything else is the user's: its names stop the delete (``refusal``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from orchestrator.providers.base import description_owned, named_value_tag, wire
from orchestrator.providers.common import Context, collect

BUILTIN_ECHO_API = "echo-api"
_SAMPLE_PRODUCTS = frozenset({"starter", "unlimited"})
_LOGGER_CREDENTIAL = "{{Logger-Credentials--"


@dataclass(frozen=True, slots=True)
class _Collection:
    label: str  # plural, as the refusal names it
    operations: str  # attribute of ApiManagementClient
    method: str = "list_by_service"


COLLECTIONS = (
    _Collection("named values", "named_value"),
    _Collection("backends", "backend"),
    _Collection("APIs", "api"),
    _Collection("products", "product"),
    _Collection("subscriptions", "subscription", "list"),
    _Collection("loggers", "logger"),
    _Collection("policy fragments", "policy_fragment"),
    _Collection("certificates", "certificate"),
    _Collection("users", "user"),
    _Collection("groups", "group"),
)


def _props(item: Mapping[str, Any]) -> Mapping[str, Any]:
    props = item.get("properties")
    return props if isinstance(props, Mapping) else item


def _tail(value: Any) -> str:
    return str(value or "").rstrip("/").rsplit("/", 1)[-1].lower()


def is_builtin(label: str, name: str, item: Mapping[str, Any]) -> bool:
    """True for what APIM creates inside every service (module doc), never user content."""
    props = _props(item)
    lname = name.lower()
    if label == "groups":
        return props.get("builtIn") is True or props.get("type") == "system"
    if label == "users":
        return lname == "1"
    if label == "subscriptions":
        if lname == "master":
            return True
        owner, scope = str(props.get("ownerId") or ""), str(props.get("scope") or "")
        return (
            owner.rstrip("/").endswith("/users/1")
            and "/products/" in scope
            and _tail(scope) in _SAMPLE_PRODUCTS
        )
    if label == "products":
        return lname in _SAMPLE_PRODUCTS
    if label == "APIs":
        return lname == BUILTIN_ECHO_API
    if label == "loggers":
        return lname == "azuremonitor" and str(props.get("loggerType", "")).lower() == "azuremonitor"
    return False


def is_logger_credential(name: str, item: Mapping[str, Any]) -> bool:
    """True for a named value APIM made to hold a logger's key (module doc): secret, display name
    ``Logger-Credentials--<its own id>``."""
    props = _props(item)
    return props.get("displayName") == f"Logger-Credentials--{name}" and props.get("secret") is True


def _owned(label: str, item: Mapping[str, Any], lab: str, logger_credentials: frozenset[str]) -> bool:
    props = _props(item)
    if label == "named values":
        tags = props.get("tags") or []
        display = str(props.get("displayName") or "")
        return named_value_tag(lab) in tags or display in logger_credentials
    if label in ("backends", "APIs", "loggers", "products"):
        return description_owned(props.get("description"), lab)
    if label == "subscriptions":  # no description: the mark is in the display name (``apim_products``)
        return description_owned(props.get("displayName"), lab)
    return False  # the lab creates no fragments, certificates, users, groups


def _credential_names(loggers: list[Mapping[str, Any]], lab: str | None) -> frozenset[str]:
    """Display names of the named values APIM made to hold the credentials of the loggers owned
    by ``lab`` (``None``: of every logger)."""
    names: set[str] = set()
    for item in loggers:
        props = _props(item)
        if lab is not None and not description_owned(props.get("description"), lab):
            continue
        for value in (props.get("credentials") or {}).values():
            text = str(value)
            if text.startswith(_LOGGER_CREDENTIAL) and text.endswith("}}"):
                names.add(text[2:-2])
    return frozenset(names)


async def foreign_children(ctx: Context, rg: str, service: str) -> dict[str, list[str]]:
    """``{collection label: sorted names}`` of what ``service`` holds that the lab does not own
    and APIM did not create itself (empty collections left out)."""
    client = ctx.clients.apim
    found: dict[str, list[Mapping[str, Any]]] = {}

    async def load(collection: _Collection) -> None:
        method: Callable[..., Any] = getattr(getattr(client, collection.operations), collection.method)
        async with ctx.read_limiter:
            items = await collect(f"{collection.label} in {service}", lambda: method(rg, service))
        found[collection.label] = [{"name": item.name, **wire(item)} for item in items]

    async with anyio.create_task_group() as tg:
        for collection in COLLECTIONS:
            tg.start_soon(load, collection)
    credentials = _credential_names(found["loggers"], ctx.lab)
    referenced = _credential_names(found["loggers"], None)

    def leftover(label: str, item: Mapping[str, Any]) -> bool:
        name = str(item["name"])
        return (
            label == "named values"
            and is_logger_credential(name, item)
            and f"Logger-Credentials--{name}" not in referenced
        )

    foreign: dict[str, list[str]] = {}
    for collection in COLLECTIONS:
        names = sorted(
            str(item["name"])
            for item in found[collection.label]
            if not is_builtin(collection.label, str(item["name"]), item)
            and not _owned(collection.label, item, ctx.lab, credentials)
            and not leftover(collection.label, item)
        )
        if names:
            foreign[collection.label] = names
    return foreign


def describe(foreign: Mapping[str, list[str]]) -> str:
    """``named values (a, b); products (c)``."""
    return "; ".join(f"{label} ({', '.join(names)})" for label, names in foreign.items())


def refusal(foreign: Mapping[str, list[str]]) -> str | None:
    """Why a delete of the service must not happen, or None."""
    if not foreign:
        return None
    return (
        f"not deleted: it holds what this lab does not own — {describe(foreign)}; "
        "deleting the service would delete them too: delete or move them first"
    )
