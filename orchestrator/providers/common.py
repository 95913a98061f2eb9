"""What every provider shares at run time: the clients, the read-phase memo, matching read
results to node addresses, and list calls that treat a missing parent as an empty collection.

Flow: ``providers_for(clients)`` builds one ``Context``; each provider's ``read`` lists its
collection once, turns each item into an ``Actual`` (keyed by a lower-cased ``(parent..., name)``
key) and ``assign`` maps them onto the node addresses the engine asked about: a match keeps the
node address, an owned item no node wants gets the synthetic address ``<kind>.<name>`` (prune),
an unowned item no node wants is ignored. (Policies are all named ``policy``: their
synthetic address is the graph's, ``api_policy.<api>`` / ``operation_policy.<api>.<operation>``.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from orchestrator.errors import PrmlabError
from orchestrator.pending import PendingDeletes
from orchestrator.providers.base import ReadMemo
from orchestrator.providers.errors import status_of, translating
from orchestrator.resource import Actual, Desired

if TYPE_CHECKING:
    from orchestrator.spec.models import Lab
    from orchestrator.target import Clients

T = TypeVar("T")
A = TypeVar("A")
Key = tuple[str, ...]


@dataclass(slots=True)
class Context:
    """Shared by all providers of one reconcile.

    ``clients`` is ``orchestrator.target.Clients``; ``lab`` the lab's name (the ownership mark
    every write stamps); ``apim_service`` the lab's APIM service name (where APIM children live);
    ``resource_group`` / ``location`` where ARM resources go (default: the target's).
    """

    clients: Clients
    lab: str
    apim_service: str | None = None
    resource_group: str | None = None
    location_name: str | None = None
    lab_spec: Lab | None = None  # for names other nodes define
    app_unique_names: Mapping[str, str] = field(default_factory=dict)  # entra.apps key -> uniqueName
    memo: ReadMemo = field(default_factory=ReadMemo)
    # deletes started and not seen finish (``orchestrator.pending``); None: not recorded
    pending: PendingDeletes | None = None
    # Bounds the concurrent read calls providers make on their own (per-parent lists, GETs).
    read_limiter: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(32))

    @classmethod
    def for_lab(cls, clients: Clients, lab: Lab | str) -> Context:
        """A context from a ``Lab`` model (or just a lab name, for tests of one kind)."""
        if isinstance(lab, str):
            return cls(clients, lab)
        from orchestrator.target import state_dir

        target = lab.target
        return cls(
            clients,
            str(lab.name),
            pending=PendingDeletes(state_dir(lab)),
            apim_service=lab.apim.service.name,
            resource_group=str(target.resource_group),
            location_name=str(target.location),
            lab_spec=lab,
            app_unique_names={k: str(a.unique_name) for k, a in lab.entra.apps.items()},
        )

    @property
    def rg(self) -> str:
        return self.resource_group or str(self.clients.resource_group)

    @property
    def subscription_id(self) -> str:
        return str(self.clients.subscription_id)

    @property
    def tenant_id(self) -> str:
        return str(self.clients.tenant_id)

    @property
    def location(self) -> str:
        return self.location_name or str(self.clients.location)

    def rg_id(self, rg: str | None = None) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{rg or self.rg}"


async def gather(ctx: Context, items: Iterable[A], fn: Callable[[A], Awaitable[T]]) -> list[T]:
    """``[await fn(i) for i in items]`` run concurrently under the context's read limiter; results
    keep the order of ``items``. The first error cancels the rest and is raised as itself."""
    todo = list(items)
    results: list[Any] = [None] * len(todo)
    failures: list[BaseException] = []

    async def one(index: int, item: A) -> None:
        try:
            async with ctx.read_limiter:
                results[index] = await fn(item)
        except Exception as exc:  # re-raised below as itself, not as an exception group
            failures.append(exc)
            group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        for index, item in enumerate(todo):
            group.start_soon(one, index, item)
    if failures:
        raise failures[0]
    return results


def key_of(*parts: str) -> Key:
    return tuple(p.lower() for p in parts)


def assign(
    kind: str,
    addresses: Mapping[str, Desired | None],
    found: Iterable[tuple[Key, Actual]],
    desired_key: Callable[[Desired], Key],
) -> dict[str, Actual]:
    """Map read results onto node addresses (see the module docstring)."""
    wanted: dict[Key, str] = {}
    for address, desired in addresses.items():
        if desired is not None:
            wanted[desired_key(desired)] = address
    out: dict[str, Actual] = {}
    for key, actual in found:
        target = wanted.get(key)
        if target is not None:
            out[target] = dataclasses.replace(actual, address=target)
        elif actual.owned:
            out[synthetic_address(kind, actual)] = dataclasses.replace(
                actual, address=synthetic_address(kind, actual)
            )
    return out


def synthetic_address(kind: str, actual: Actual) -> str:
    """The address of an owned resource no node names, shaped like the graph's addresses:
    ``<kind>.<name>``, or ``<kind>.<parent>.<name>`` for children (``operation.mcp.prm``)."""
    parents = [
        str(actual.properties[k])
        for k in ("@app", "@product", "@api", "@operation")
        if actual.properties.get(k)
    ]
    if kind in _NAMED_BY_PARENT:  # one per parent, always named "policy"
        return ".".join([kind, *parents])
    return ".".join([kind, *parents, actual.name])


_NAMED_BY_PARENT = frozenset({"api_policy", "operation_policy", "product_policy"})


async def collect(
    resource: str, pages: Callable[[], AsyncIterator[T]], *, missing_ok: bool = True
) -> list[T]:
    """All items of a paged SDK list; a missing parent (404) is an empty list."""
    items: list[T] = []
    try:
        with translating(resource):
            async for item in pages():
                items.append(item)
    except Exception as exc:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        if missing_ok and status_of(cause) == 404:
            return []
        raise
    return items


async def get_or_none(resource: str, call: Callable[[], Awaitable[T]]) -> T | None:
    """One GET; None when the target answers 404."""
    try:
        with translating(resource):
            return await call()
    except Exception as exc:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        if status_of(cause) == 404:
            return None
        raise


async def delete_ignoring_missing(resource: str, call: Callable[[], Awaitable[Any]]) -> None:
    """A delete that is already done when the target says 404."""
    try:
        with translating(resource):
            await call()
    except Exception as exc:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        if status_of(cause) == 404:
            return
        raise


def str_prop(props: Mapping[str, Any], key: str) -> str:
    value = props.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"desired property {key!r} is missing")
    return value


def global_name(name: str | None, where: str) -> str:
    """A global name (APIM service, registry, storage account) of a completed lab: lab.yaml's, or
    the one ``labfile.complete`` derived once the target was known. ``None`` here is a bug of the
    caller (a lab used before ``complete``), said as such rather than sent as ``None``."""
    if name is None:
        raise PrmlabError(
            f"internal error: {where} has no name yet; the lab's global names are derived once its "
            "target is known (orchestrator.labfile.complete)"
        )
    return name


def keyed(graph: Any, method: str, key: str) -> Any:
    """``graph.<method>(key)`` — an msgraph alternate-key request builder
    (``applications_with_unique_name``, ``service_principals_with_app_id``…) — built on a private
    copy of the client's path parameters.

    msgraph-sdk's generated builders write the key into the client's own ``path_parameters`` dict
    and keep a reference to it, so two such builders alive at once (concurrent provider calls that
    await a token between building and sending) send *both* requests to the key written last.
    """
    import copy

    clone = copy.copy(graph)
    clone.path_parameters = dict(graph.path_parameters)
    return getattr(clone, method)(key)
