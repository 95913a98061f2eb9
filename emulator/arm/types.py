"""The table of resource types the emulated ARM serves, and what a type may customise.

Where it sits: ``emulator.arm.apim`` and ``emulator.arm.generic`` each register ``TypeSpec``s;
``emulator.arm.crud`` runs the one generic create/read/update/delete/list flow and calls a
spec's hooks where a type differs (server-generated fields, secrets hidden on GET, soft
delete, actions such as ``listValue``, long-running create).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from emulator.arm.ids import ArmAddress
from emulator.arm.settings import ArmSettings
from emulator.context import EmulatorContext
from emulator.store import Stored

Doc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """One ARM request, as the hooks see it."""

    ctx: EmulatorContext
    settings: ArmSettings
    addr: ArmAddress
    query: Mapping[str, str]
    body: Doc
    existing: Stored | None = None
    caller: tuple[str, str] = ("unknown", "User")  # systemData: (createdBy, createdByType)


# prepare(call, base) -> the full body to store (base has id/name/type[/location/tags]; properties
# are the request's). May raise ArmError.
Prepare = Callable[[Call, Doc], Awaitable[Doc]]
Present = Callable[[Doc, Mapping[str, str]], Doc]
Action = Callable[[Call, Stored], Awaitable[Response]]
# list_filter(docs, query) -> the docs a collection GET answers (``$filter`` support)
ListFilter = Callable[[list[Stored], Mapping[str, str]], list[Stored]]
# visible(body, query) -> whether the resource exists at the request's api-version (a resource
# only some api-versions know: GET/HEAD 404, lists leave it out, DELETE finds nothing)
Visible = Callable[[Doc, Mapping[str, str]], bool]
# custom delete: returns the response (the resource exists)
Delete = Callable[[Call, Stored], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class TypeSpec:
    kind: str  # lower-cased full type, the store kind
    type_name: str  # canonical casing for the ``type`` field
    tracked: bool = False  # has location + tags (top-level ARM resources)
    prepare: Prepare | None = None
    present: Present | None = None
    create_lro_seconds: Callable[[ArmSettings], float] | None = None  # create answers 201 + LRO
    lro_finish_action: str | None = None
    delete: Delete | None = None
    delete_status: int = 200  # answer when the resource existed (missing -> 204)
    delete_missing_404: bool = False  # deleting a missing resource is 404 (purge), not 204
    delete_lro: bool = False  # existing -> 202 + Azure-AsyncOperation (done at once)
    delete_answers_body: bool = False  # the 200 answers the deleted resource (its spec's 200 schema)
    actions: Mapping[str, Action] = field(default_factory=dict)
    # names that exist without a write (APIM's built-in ``managed`` gateway): their actions run
    implicit: frozenset[str] = frozenset()
    singleton: str | None = None  # the only name allowed (APIM ``policies/policy``)
    apim: bool = False  # APIM entity: APIM error texts
    api_scoped: bool = False  # writes hold the per-API lock (409 PessimisticConcurrencyConflict)
    list_at_subscription: bool = False  # GET /subscriptions/{s}/providers/{ns}/{type} lists all
    check_parents: bool = True  # False for proxy paths such as ``locations/{loc}/...``
    list_kind: str | None = None  # a list-only alias of another kind (subscription-wide lists)
    list_filter: ListFilter | None = None  # applies the collection GET's ``$filter``
    visible: Visible | None = None  # see ``Visible``
    # APIM entity collections: ``count`` (all pages) and ``nextLink`` on every page ("" on the
    # last), as their *Collection contracts define and the examples answer
    list_count: bool = False


REGISTRY: dict[str, TypeSpec] = {}


def register(spec: TypeSpec) -> None:
    REGISTRY[spec.kind] = spec


def spec_for(kind: str) -> TypeSpec | None:
    return REGISTRY.get(kind)
