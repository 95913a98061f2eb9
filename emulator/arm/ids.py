"""Parse ARM request paths into resource addresses (pure).

``/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ApiManagement/service/{svc}/apis/{api}``
becomes an ``ArmAddress`` with the scope (``/subscriptions/{s}/resourceGroups/{rg}``), the
namespace, the type segments and the names. Extension resources (``{scope}/providers/
Microsoft.Authorization/roleAssignments/{id}``) use the last ``/providers/`` as the split.
Keys in the store are the lower-cased ids (see ``emulator.store``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote


@dataclass(frozen=True, slots=True)
class ArmAddress:
    subscription: str
    resource_group: str | None  # as written, when the scope is (inside) a resource group
    scope: str  # id before the last /providers/, as written (no trailing slash)
    namespace: str
    types: tuple[str, ...]
    names: tuple[str, ...]
    action: str | None = None  # POST .../{name}/{action}

    @property
    def is_collection(self) -> bool:
        return len(self.names) < len(self.types)

    @property
    def kind(self) -> str:
        """Lower-cased resource type, the store ``kind``."""
        return "/".join([self.namespace, *self.types]).lower()

    @property
    def type_name(self) -> str:
        return "/".join([self.namespace, *self.types])

    @property
    def name(self) -> str:
        return self.names[-1] if self.names else ""

    @property
    def id(self) -> str:
        """Resource id as written (for a collection: the id of the collection path)."""
        parts = [self.scope, "providers", self.namespace]
        for i, t in enumerate(self.types):
            parts.append(t)
            if i < len(self.names):
                parts.append(self.names[i])
        return "/".join(parts)

    @property
    def key(self) -> str:
        return self.id.lower()

    @property
    def parent_id(self) -> str:
        """The owning resource (or the scope, for a top-level resource / collection)."""
        n = len(self.names) if not self.is_collection else len(self.names) + 1
        if n <= 1:
            return self.scope
        parent = ArmAddress(
            self.subscription,
            self.resource_group,
            self.scope,
            self.namespace,
            self.types[: n - 1],
            self.names[: n - 1],
        )
        return parent.id

    @property
    def parent_key(self) -> str:
        return self.parent_id.lower()

    def ancestors(self) -> list[ArmAddress]:
        """Every owning resource, outermost first (not the scope)."""
        n = len(self.names) if not self.is_collection else len(self.names) + 1
        return [
            ArmAddress(
                self.subscription,
                self.resource_group,
                self.scope,
                self.namespace,
                self.types[:i],
                self.names[:i],
            )
            for i in range(1, n)
        ]


def split_path(path: str) -> list[str]:
    return [unquote(p) for p in path.split("/") if p]


def parse_address(path: str, method: str) -> ArmAddress | None:
    """An address for a path with ``/providers/{ns}/{type}...``; ``None`` for anything else."""
    parts = split_path(path)
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        return None
    lower = [p.lower() for p in parts]
    if "providers" not in lower:
        return None
    i = len(lower) - 1 - lower[::-1].index("providers")
    rest = parts[i + 1 :]
    if len(rest) < 2:
        return None
    scope_parts = parts[:i]
    resource_group = None
    if len(scope_parts) >= 4 and scope_parts[2].lower() == "resourcegroups":
        resource_group = scope_parts[3]
    namespace, segs = rest[0], rest[1:]
    action = None
    # POST {resource}/{action}: an even number of segments after the namespace, ending in a verb
    if method == "POST" and len(segs) >= 3 and len(segs) % 2 == 1:
        action, segs = segs[-1], segs[:-1]
    types = tuple(segs[0::2])
    # ``locations/West Europe`` and ``locations/westeurope`` are the same location
    names = tuple(
        n.replace(" ", "").lower() if t.lower() == "locations" else n
        for t, n in zip(types, segs[1::2], strict=False)
    )
    scope = "/" + "/".join(scope_parts)
    return ArmAddress(parts[1], resource_group, scope, namespace, types, names, action)
