"""In-memory providers over a fake cloud, for planner/executor/engine tests (no network).

A spec is a dict ``{"name": str, "props": {...}}``; prop values may be ``FakeRef`` (resolved
with ``resolve.value_of``). Each provider kind keeps its resources in ``FakeCloud.records``;
writes are counted, can be delayed on a gate, fail with injected errors, and the number of
calls in flight is tracked to check the parallelism bound.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from orchestrator.errors import PrmlabError
from orchestrator.resolve import value_of
from orchestrator.resource import UNKNOWN, Actual, Desired, FieldChange, Secret


@dataclass(frozen=True)
class FakeRef:
    ref: str
    suffix: str | None = None


@dataclass
class Record:
    kind: str
    name: str
    properties: dict[str, Any]
    owner: str | None
    address: str
    outputs: dict[str, Any]


@dataclass
class FakeCloud:
    records: dict[tuple[str, str], Record] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (verb, kind, name)
    in_flight: int = 0
    max_in_flight: int = 0
    # (verb, address) -> list of exceptions raised by successive calls
    faults: dict[tuple[str, str], list[BaseException]] = field(default_factory=dict)
    # verb/address -> an event the call waits for before doing anything
    gates: dict[tuple[str, str], anyio.Event] = field(default_factory=dict)
    entered: dict[tuple[str, str], anyio.Event] = field(default_factory=dict)
    checkpoints: int = 3  # yields inside each call so concurrent calls interleave
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def writes(self) -> list[tuple[str, str, str]]:
        return [c for c in self.calls if c[0] != "read"]

    def add(
        self, kind: str, name: str, props: Mapping[str, Any], owner: str | None, address: str = ""
    ) -> None:
        self.records[(kind, name)] = Record(
            kind, name, dict(props), owner, address or f"{kind}.{name}", {"id": f"{kind}/{name}", **props}
        )

    async def call(self, verb: str, kind: str, name: str, address: str) -> None:
        self.calls.append((verb, kind, name))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            entered = self.entered.get((verb, address))
            if entered is not None:
                entered.set()
            gate = self.gates.get((verb, address))
            if gate is not None:
                await gate.wait()
            for _ in range(self.checkpoints):
                await anyio.lowlevel.checkpoint()
            pending = self.faults.get((verb, address))
            if pending:
                raise pending.pop(0)
        finally:
            self.in_flight -= 1


class FakeProvider:
    def __init__(self, kind: str, cloud: FakeCloud, immutable: frozenset[str] = frozenset()) -> None:
        self.kind = kind
        self.cloud = cloud
        self.immutable = immutable

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        self.cloud.calls.append(("read", self.kind, "*"))
        await anyio.lowlevel.checkpoint()
        names = {d.name: a for a, d in addresses.items() if d is not None}
        found: dict[str, Actual] = {}
        for (kind, name), rec in self.cloud.records.items():
            if kind != self.kind:
                continue
            owned = rec.owner == lab_name
            if owned:
                address = names.get(name, rec.address if rec.address in addresses else f"{kind}.{name}")
            elif name in names:
                address = names[name]
            else:
                continue
            found[address] = Actual(
                address, kind, name, dict(rec.properties), dict(rec.outputs), owned, handle=rec
            )
        return found

    def desired(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> Desired:
        props = {k: value_of(v, resolved) if isinstance(v, FakeRef) else v for k, v in spec["props"].items()}
        return Desired(address, self.kind, spec["name"], props)

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        return tuple(
            FieldChange(key, actual.properties.get(key), value, forces_replacement=key in self.immutable)
            for key, value in sorted(desired.properties.items())
            if value is UNKNOWN or actual.properties.get(key) != value
        )

    def _store(self, desired: Desired, lab: str) -> Actual:
        props = dict(desired.properties)
        outputs = {"id": f"{self.kind}/{desired.name}", "serial": next(self.cloud.ids), **props}
        self.cloud.records[(self.kind, desired.name)] = Record(
            self.kind, desired.name, props, lab, desired.address, outputs
        )
        return Actual(desired.address, self.kind, desired.name, props, outputs, True)

    async def create(self, desired: Desired) -> Actual:
        await self.cloud.call("create", self.kind, desired.name, desired.address)
        return self._store(desired, LAB)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        await self.cloud.call("update", self.kind, desired.name, desired.address)
        return self._store(desired, LAB)

    async def delete(self, actual: Actual) -> None:
        await self.cloud.call("delete", self.kind, actual.name, actual.address)
        self.cloud.records.pop((self.kind, actual.name), None)


LAB = "demo"


def providers(
    cloud: FakeCloud, kinds: list[str], immutable: Mapping[str, frozenset[str]] | None = None
) -> dict[str, Any]:
    immutable = immutable or {}
    return {k: FakeProvider(k, cloud, immutable.get(k, frozenset())) for k in kinds}


def spec(name: str, **props: Any) -> dict[str, Any]:
    return {"name": name, "props": props}


def secret(value: str) -> Secret:
    return Secret(value)


def raising(exc: PrmlabError, times: int) -> list[BaseException]:
    return [exc for _ in range(times)]


Factory = Callable[[], FakeCloud]
