"""Who a request comes from: subscription keys, products, users and groups of one APIM service.

Where it sits: ``config.Snapshot`` builds one ``Directory`` from the service's stored documents
(ARM GET shapes of ``subscriptions``, ``products`` + ``products/{p}/apis|groups`` links,
``users``, ``groups`` + ``groups/{g}/users`` links); ``app`` asks ``Directory.admit`` per request
and puts the answer in ``context.Subscription`` / ``context.User`` / ``context.Product``. Pure: no
I/O, frozen records.

The rules are Learn's "Subscriptions in Azure API Management", section "How API Management
handles requests with or without subscription keys"
(https://learn.microsoft.com/azure/api-management/api-management-subscriptions):

* the key is read from the API's header name (``subscriptionKeyParameterNames.header``, default
  ``Ocp-Apim-Subscription-Key``); the query parameter (default ``subscription-key``) "is checked
  only if the header isn't present";
* with a key: it must belong to an *active* subscription scoped to the API, to a product that
  holds the API, to all APIs (``/apis``) or to the service (the built-in all-access ``master``);
  otherwise 401 — also when the API itself needs no subscription ("Other key not scoped to
  applicable product or API: Access denied" in every row of the summary table);
* without a key: an *open* product (``subscriptionRequired: false``) that holds the API admits the
  request in that product's context ("An API can be associated with at most one open product");
  else an API with ``subscriptionRequired: false`` admits it in the API's context; else 401;
* "API access in a product context is the same, whether the product is published or not".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from emulator.gateway.expr.values import parse_datetime

P = "microsoft.apimanagement/service"
KIND_SUBSCRIPTION = P + "/subscriptions"
KIND_PRODUCT = P + "/products"
KIND_PRODUCT_API = P + "/products/apis"
KIND_PRODUCT_GROUP = P + "/products/groups"
KIND_USER = P + "/users"
KIND_GROUP = P + "/groups"
KIND_GROUP_USER = P + "/groups/users"
KINDS = (
    KIND_SUBSCRIPTION,
    KIND_PRODUCT,
    KIND_PRODUCT_API,
    KIND_PRODUCT_GROUP,
    KIND_USER,
    KIND_GROUP,
    KIND_GROUP_USER,
)

# APIM's answers (Learn "Error handling in API Management policies", predefined errors
# SubscriptionKeyNotFound / SubscriptionKeyInvalid; the gateway's 401 bodies)
MISSING_KEY = (
    "Access denied due to missing subscription key. Make sure to include subscription key when "
    "making requests to an API."
)
INVALID_KEY = "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription."

_SCOPE = re.compile(r"^/?(?:(?P<kind>apis|products)(?:/(?P<name>[^/]+))?)?/?$", re.IGNORECASE)


@dataclass(frozen=True)
class GroupRecord:
    id: str
    name: str


@dataclass(frozen=True)
class UserRecord:
    id: str
    email: str
    first_name: str
    last_name: str
    note: str | None
    registered: datetime | None
    identities: tuple[tuple[str, str], ...]  # (provider, id)
    groups: tuple[GroupRecord, ...]


@dataclass(frozen=True)
class ProductRecord:
    id: str
    name: str
    published: bool
    approval_required: bool
    subscription_required: bool
    limit: int | None
    apis: tuple[str, ...]  # API names (lower-cased)
    groups: tuple[GroupRecord, ...]


@dataclass(frozen=True)
class SubscriptionRecord:
    id: str
    name: str
    scope: tuple[str, str]  # ("service"|"apis"|"api"|"product", name); ("invalid", text) never admits
    owner: str | None  # user id
    active: bool
    primary_key: str
    secondary_key: str
    created: datetime | None
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True)
class Admission:
    """The answer for one request: admitted (with its context) or the 401 message."""

    subscription: SubscriptionRecord | None = None
    key: str = ""
    product: ProductRecord | None = None
    user: UserRecord | None = None
    refusal: str | None = None


def _name(doc_key: str) -> str:
    return doc_key.rsplit("/", 1)[-1]


def _relative(ref: str, service_key: str) -> str:
    """An ARM id under the service, or a service-relative path, as the service-relative path."""
    text = ref.strip()
    if text.lower().startswith(service_key.lower()):
        return text[len(service_key) :] or "/"
    return text


def parse_scope(scope: str, service_key: str) -> tuple[str, str]:
    m = _SCOPE.match(_relative(scope, service_key))
    if m is None:
        return ("invalid", scope)
    kind, name = (m.group("kind") or "").lower(), (m.group("name") or "").lower()
    if not kind:
        return ("service", "")
    if kind == "apis":
        return ("api", name) if name else ("apis", "")
    return ("product", name) if name else ("invalid", scope)


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_datetime(value)
    except Exception:
        return None


@dataclass(frozen=True)
class Directory:
    by_key: Mapping[str, SubscriptionRecord]
    products: Mapping[str, ProductRecord]
    users: Mapping[str, UserRecord]
    open_product_of: Mapping[str, ProductRecord]  # API name -> its open product

    @staticmethod
    def build(docs: Iterable[Any], service_key: str) -> Directory:
        """From stored documents (``kind``, ``key``, ``body``) of the service."""
        by_kind: dict[str, list[Any]] = {}
        for d in docs:
            by_kind.setdefault(d.kind, []).append(d)

        def props(d: Any) -> dict[str, Any]:
            return dict(d.body.get("properties") or {})

        groups = {_name(d.key): GroupRecord(_name(d.key), str(props(d).get("displayName") or "")) for d in by_kind.get(KIND_GROUP, [])}  # fmt: skip
        member_of: dict[str, list[GroupRecord]] = {}
        for link in by_kind.get(KIND_GROUP_USER, []):
            group = groups.get(_name(link.parent or ""))
            if group is not None:
                member_of.setdefault(_name(link.key), []).append(group)
        users: dict[str, UserRecord] = {}
        for d in by_kind.get(KIND_USER, []):
            p = props(d)
            uid = _name(d.key)
            identities = tuple(
                (str(i.get("provider") or ""), str(i.get("id") or ""))
                for i in p.get("identities") or []
                if isinstance(i, dict)
            )
            users[uid] = UserRecord(
                uid, str(p.get("email") or ""), str(p.get("firstName") or ""), str(p.get("lastName") or ""),
                p.get("note"), _date(p.get("registrationDate")), identities,
                tuple(sorted(member_of.get(uid, []), key=lambda g: g.id)),
            )  # fmt: skip
        product_apis: dict[str, list[str]] = {}
        for link in by_kind.get(KIND_PRODUCT_API, []):
            product_apis.setdefault(_name(link.parent or ""), []).append(_name(link.key))
        product_groups: dict[str, list[GroupRecord]] = {}
        for link in by_kind.get(KIND_PRODUCT_GROUP, []):
            group = groups.get(_name(link.key))
            if group is not None:
                product_groups.setdefault(_name(link.parent or ""), []).append(group)
        products: dict[str, ProductRecord] = {}
        for d in by_kind.get(KIND_PRODUCT, []):
            p = props(d)
            pid = _name(d.key)
            limit = p.get("subscriptionsLimit")
            products[pid] = ProductRecord(
                pid, str(p.get("displayName") or pid), str(p.get("state") or "") == "published",
                bool(p.get("approvalRequired", False)), bool(p.get("subscriptionRequired", True)),
                limit if isinstance(limit, int) else None, tuple(sorted(product_apis.get(pid, []))),
                tuple(sorted(product_groups.get(pid, []), key=lambda g: g.id)),
            )  # fmt: skip
        open_product_of: dict[str, ProductRecord] = {}
        for product in sorted(products.values(), key=lambda p: p.id):
            if not product.subscription_required:
                for api in product.apis:
                    open_product_of.setdefault(api, product)
        by_key: dict[str, SubscriptionRecord] = {}
        for d in by_kind.get(KIND_SUBSCRIPTION, []):
            p = props(d)
            owner = p.get("ownerId")
            owner_id = _name(_relative(str(owner), service_key)) if isinstance(owner, str) and owner else None
            record = SubscriptionRecord(
                _name(d.key), str(p.get("displayName") or _name(d.key)),
                parse_scope(str(p.get("scope") or ""), service_key), owner_id, p.get("state") == "active",
                str(p.get("primaryKey") or ""), str(p.get("secondaryKey") or ""), _date(p.get("createdDate")),
                _date(p.get("startDate")), _date(p.get("expirationDate")),
            )  # fmt: skip
            for key in (record.primary_key, record.secondary_key):
                if key:
                    by_key[key] = record
        return Directory(by_key, products, users, open_product_of)

    def admit(self, api_name: str, api_requires_key: bool, key: str | None) -> Admission:
        """Learn's rules (module docstring) for a request to ``api_name`` carrying ``key``."""
        api = api_name.lower()
        if key is None:
            product = self.open_product_of.get(api)
            if product is not None:
                return Admission(product=product)
            if not api_requires_key:
                return Admission()
            return Admission(refusal=MISSING_KEY)
        record = self.by_key.get(key)
        if record is None or not record.active:
            return Admission(refusal=INVALID_KEY)
        kind, name = record.scope
        product = None
        if kind == "product":
            product = self.products.get(name)
            if product is None or api not in product.apis:
                return Admission(refusal=INVALID_KEY)
        elif kind == "api":
            if name != api:
                return Admission(refusal=INVALID_KEY)
        elif kind not in ("apis", "service"):
            return Admission(refusal=INVALID_KEY)
        user = self.users.get(record.owner) if record.owner else None
        return Admission(record, key, product, user)
