"""The contract between the planner/executor and the providers (one per resource kind).

Flow: ``graph.build_graph(lab)`` gives nodes (address, kind, depends_on, spec). For each kind a
``Provider`` (in ``orchestrator/providers/``) does:

* ``read``   — network: list the lab's owned resources of its kind (ownership mark), one list call
               where the API allows; returns ``Actual`` facts keyed by node address.
* ``desired`` — pure: turn a node's spec + resolved references into ``Desired`` properties.
               References not yet known (the referenced resource is still to be created) resolve
               to ``UNKNOWN``; the provider keeps them as such.
* ``diff``   — pure: compare only the fields the spec owns (server-filled defaults are not drift);
               canonicalise what the server rewrites (policy XML); compare secrets by digest.
* ``create`` / ``update`` / ``delete`` — network: do it, return the resulting ``Actual``.

``Actual.outputs`` feeds reference resolution for dependants (``client_id``, ``gateway_url``...).
Plans and facts are immutable; providers never print.

How the engine (``engine``, ``plan``, ``apply``) calls a provider — the rest of the contract:

* ``read`` is called once per run for *every* registered kind (also kinds the spec no longer
  names, so leftovers can be pruned), concurrently with the other kinds, retried on
  ``TemporaryError``. ``addresses`` holds the kind's nodes with a ``Desired`` derived while every
  reference is still ``UNKNOWN`` (use it for names only).
* ``resolved`` (argument of ``desired``) maps ``"<address>.<output>"`` — the ``ref`` string of a
  reference — to its value *without* the reference's ``suffix`` (append it:
  ``resolve.value_of`` or ``resolve.substitute``), or to ``UNKNOWN``; secret outputs come as
  ``Secret``. ``desired`` is called again just before a write, with the real outputs.
* ``Desired.properties`` keys starting with ``@`` locate the resource (parent names, ids): never
  printed, never diffed, and they may still be ``UNKNOWN`` at write time (the provider finds
  them). Any other key still ``UNKNOWN`` at write time fails the node — except on a node with
  late-bound references (``graph.Node.deferred``): those keys are *removed* from ``properties``
  for the first create/update and written by a follow-up update (step ``<address>#late``) once
  their providers exist. So ``create``/``update`` build request bodies from ``properties`` only
  and tolerate a missing key.
* ``create`` / ``update`` / ``delete`` are retried as a whole on ``TemporaryError`` (after its
  ``delay``) and may be interrupted (Ctrl-C) at any await: each must be idempotent by name
  (PUT / upsert), and ``delete`` of something already gone is a success. Raise
  ``PermanentError`` for what retrying cannot fix; any other exception is reported as a provider
  bug on that node.
* ``delete_refusal`` (optional, ``DeleteGuard``): a provider whose resources contain others (an
  APIM service, a resource group) says, for a delete or replace the plan holds, why it must not
  happen — what inside is not the lab's, by name — or None. The engine asks before the plan is
  printed (``guard.inspect_deletes``), so the plan shows the refusal and apply fails that step
  without calling ``delete``; ``delete`` itself checks again (the target may change in between).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable


class _Unknown:
    """A value known only after apply (printed as ``(known after apply)``)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(known after apply)"

    __str__ = __repr__


UNKNOWN: Any = _Unknown()


class Secret:
    """A secret value: compared by digest, never printed (repr shows ``(sensitive)``)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "(sensitive)"

    __str__ = __repr__


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    REPLACE = "replace"
    NOOP = "no-op"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "delete": "-", "replace": "-/+", "no-op": " "}[self.value]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One owned field that differs: ``path`` like ``properties.url``; values may be UNKNOWN/Secret."""

    path: str
    old: Any
    new: Any
    forces_replacement: bool = False
    why: str = ""  # why the change forces replacement, when the field alone does not say it


@dataclass(frozen=True, slots=True)
class Desired:
    address: str
    kind: str
    name: str  # the name in Azure (ARM resource name, Graph uniqueName, ...)
    properties: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Actual:
    address: str
    kind: str
    name: str
    properties: Mapping[str, Any]  # only what the provider needs to diff
    outputs: Mapping[str, Any] = field(default_factory=dict)  # feeds references
    owned: bool = True  # carries this lab's ownership mark
    handle: Any = None  # provider-private identifier (ARM id, Graph object id)
    note: str = ""  # a state the plan must tell (e.g. "soft-deleted: only its purge is left")
    # why this lab never deletes the resource although it owns it (an adopted resource group:
    # ``providers.arm.ResourceGroupProvider``); destroy leaves it, a delete or replacement is refused
    keep: str = ""
    # the other labs whose ownership marks a resource not owned by this lab carries: adopting it
    # would take it from them, so the plan refuses it (``plan._ownership_refusal``), adopt or not
    owners: tuple[str, ...] = ()


class Provider(Protocol):
    kind: str

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        """Actual state of the owned resources of this kind, plus any same-named unowned ones
        among ``addresses`` (marked ``owned=False``). Keys are node addresses; owned resources no
        longer in the spec get a synthetic address ``<kind>.<name>`` so they can be pruned."""
        ...

    # ``spec`` is the node's model for this kind (``Api``, ``EntraApp``, ...): each provider's
    # ``desired`` narrows it; Any at this seam, where every kind meets.
    def desired(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> Desired: ...

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]: ...

    async def create(self, desired: Desired) -> Actual: ...

    async def update(self, desired: Desired, actual: Actual) -> Actual: ...

    async def delete(self, actual: Actual) -> None: ...


@runtime_checkable
class DeleteGuard(Protocol):
    """Optional half of a provider whose resources hold other resources (module doc)."""

    async def delete_refusal(self, actual: Actual) -> str | None: ...
