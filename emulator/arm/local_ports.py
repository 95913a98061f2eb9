"""Stable local ports: a resource keeps its 127.0.0.1 port for as long as the state folder lives.

Where it sits: ``apim_service`` (``properties.gatewayUrl``) and ``generic`` (a container app's
``ingress.fqdn``) ask ``port_for(ctx, resource_id)`` when they create a resource. The port handed
out is remembered in the store (kind ``emulator/ports``, key ``port:<lower-case ARM id>``; not
under the id itself, so a cascading delete of the group or service never takes the memory with
it). A resource created again under the same id — a replacement, a delete and re-create, a
destroy and reconcile — gets its remembered port back when it is still free (no other resource
of the store has it and nothing on the machine listens on it), so URLs printed once (a VS Code
``mcp.json`` entry, a backend URL) stay valid. Ports survive an emulator restart anyway (they are
part of the stored resources). A new resource never gets a port remembered for another one while
another is free.
"""

from __future__ import annotations

from emulator import ports
from emulator.context import EmulatorContext

KIND = "emulator/ports"


def taken_ports(ctx: EmulatorContext) -> set[int]:
    """Ports of the APIM services and container apps in the store now."""
    taken: set[int] = set()
    for kind, path in (
        ("microsoft.apimanagement/service", ("properties", "gatewayUrl")),
        ("microsoft.app/containerapps", ()),
    ):
        for doc in ctx.store.list(kind):
            if path:
                url = str(doc.body.get("properties", {}).get("gatewayUrl") or "")
            else:
                url = str(
                    ((doc.body.get("properties") or {}).get("configuration") or {})
                    .get("ingress", {})
                    .get("fqdn")
                    or ""
                )
            tail = url.rsplit(":", 1)[-1]
            if tail.isdigit():
                taken.add(int(tail))
    return taken


def _key(resource_id: str) -> str:
    return f"port:{resource_id.lower()}"


def port_for(ctx: EmulatorContext, resource_id: str) -> int:
    """The 127.0.0.1 port of the resource ``resource_id`` being created: its remembered one when
    free, else a new one (remembered from now on)."""
    live = taken_ports(ctx)
    key = _key(resource_id)
    remembered = {doc.key: int(doc.body["port"]) for doc in ctx.store.list(KIND)}
    mine = remembered.get(key)
    if mine is not None and mine not in live and ports.is_free(mine):
        return mine
    others = {port for k, port in remembered.items() if k != key}
    try:
        port = ports.allocate_port(live | others)
    except OSError:  # every free port the system offered is remembered for another resource
        port = ports.allocate_port(live)
    ctx.store.put(KIND, key, {"port": port, "resourceId": resource_id})
    return port
