"""Reconcile at scale: full-create wall time vs ``--parallelism 1``, no-op read cost, planning CPU.

Run: ``.venv/bin/python benchmarks/reconcile_scale.py [--mode plan|fake|emulator|both|all] [--apis 200]
[--ops 5] [--named-values 200] [--apps 20] [--latency-ms 50] [--parallelism 10] [--no-serial]
[--arm-throttling on|off]``.

It generates a lab.yaml (``--apis`` APIs x ``--ops`` operations, an API-level policy on every
API, ``--named-values`` named values, ``--apps`` Entra app registrations with service
principals; every 10th named value references an app's client id), loads it as the CLI does
(``labfile.load``: spec and graph) and runs the engine's ``execute`` (read -> plan -> apply) on it:

* ``fake``: in-memory providers that sleep ``--latency-ms`` per call (read, create, update,
  delete) — the engine's own scheduling cost, without SDKs; reads are one list call per kind.
* ``plan``: the pure planner with the real providers (``desired``/``diff``, policy rendering),
  no network: CPU of a full-create plan and of a no-op plan.
* ``emulator``: the real providers through the Azure SDKs against a private emulator with
  ``latency_ms`` injected on every ARM/Graph request; request counts come from its
  ``requests.jsonl``. ARM throttles with Azure's token buckets (``--arm-throttling on``, the
  default, as ``prmlab local start``): the full create is compared with the token-bucket floor
  computed from the ARM requests it needed — per operation type ``(accepted - bucket size) /
  refill rate`` seconds, the largest of reads, writes and deletes (no client can be faster) —
  and the share of write requests answered 429 is printed, with the pacer's waits.

For each mode it prints: full-create wall time at ``--parallelism`` and at 1 (and the ratio),
then for a second, no-op reconcile: its wall time, read requests per owned resource, write
requests (must be 0), and the planning CPU time (``time.process_time`` around the pure planner,
network excluded).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.engine import (
    ReconcileOptions,
    RunReport,
    Terminal,
    execute,
    nodes_from_graph,
    spec_resolver,
)
from orchestrator.plan import NodeInput
from orchestrator.resource import Actual, Desired, FieldChange

# ------------------------------------------------------------------ the generated lab


def generate_lab(folder: Path, *, apis: int, ops: int, named_values: int, apps: int) -> Path:
    lines = [
        "name: bench-lab",
        "target:",
        "  kind: local",
        "  resource_group: rg-bench",
        "  location: ukwest",
        "entra:",
        "  apps:",
    ]
    for a in range(apps):
        lines += [
            f"    app{a:03d}:",
            f"      unique_name: bench-lab-app-{a:03d}",
            f"      display_name: Bench app {a:03d}",
            "      access_token_version: 2",
            "      scopes:",
            "        - value: user_impersonate",
            "          type: User",
            "          admin_consent_display_name: Access",
            "          admin_consent_description: Access the API.",
            "      service_principal: true",
        ]
    lines += [
        "apim:",
        "  service:",
        "    name: apim-bench-lab",
        "    sku: BasicV2",
        "    capacity: 1",
        "    publisher_email: admin@example.com",
        "    publisher_name: prmlab",
        "  named_values:",
    ]
    for n in range(named_values):
        if apps and n % 10 == 0:
            lines += [
                f"    Nv{n:03d}:",
                f"      value: {{ref: entra.apps.app{(n // 10) % apps:03d}.client_id}}",
            ]
        else:
            lines += [f"    Nv{n:03d}:", f"      value: value-{n:03d}"]
    lines += ["  apis:"]
    for a in range(apis):
        lines += [
            f"    api{a:03d}:",
            f"      display_name: API {a:03d}",
            "      type: http",
            f"      path: api{a:03d}",
            "      protocols: [https]",
            "      subscription_required: false",
            "      policy:",
            "        template: prm",
            "        variables:",
            f"          resource: {{ref: apim.apis.api{a:03d}.url}}",
            "          authorization_servers:",
            "            - {ref: target.issuer}",
            "          scopes_supported:",
            f"            - api://bench/{a:03d}/user_impersonate",
            f"          resource_name: API {a:03d}",
            "      operations:",
        ]
        for o in range(ops):
            lines += [
                f"        op{o}:",
                "          method: GET",
                f"          url_template: /items{o}",
                f"          display_name: Items {o}",
            ]
    path = folder / "lab.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def load_nodes(lab_file: Path) -> tuple[Any, list[NodeInput]]:
    """Load as ``prmlab reconcile`` does (``labfile.load``: the policy templates are read while
    their variables are checked, so planning CPU counts rendering, not template compilation)."""
    from orchestrator.labfile import load

    lab, graph = load(lab_file)
    return lab, nodes_from_graph(graph)


def quiet_terminal() -> Terminal:
    return Terminal(io.StringIO(), io.StringIO(), interactive=False, rich=False, confirm=lambda _q: True)


# ------------------------------------------------------------------ fake providers (engine cost)


class Store:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.reads = 0
        self.writes = 0


class LatencyProvider:
    """A provider over a dict that sleeps ``latency`` per call (one list call per read)."""

    def __init__(self, kind: str, store: Store) -> None:
        self.kind = kind
        self.store = store

    async def read(self, lab_name: str, addresses: Mapping[str, Desired | None]) -> Mapping[str, Actual]:
        self.store.reads += 1
        await anyio.sleep(self.store.latency)
        by_name = {d.name: a for a, d in addresses.items() if d is not None}
        return {
            by_name.get(name, f"{kind}.{name}"): Actual(
                by_name.get(name, f"{kind}.{name}"), kind, name, props, {"id": f"{kind}/{name}"}
            )
            for (kind, name), props in self.store.records.items()
            if kind == self.kind
        }

    def desired(self, address: str, spec: Any, resolved: Mapping[str, Any]) -> Desired:
        return Desired(
            address, self.kind, address, {"spec": repr(spec), **{k: str(v) for k, v in resolved.items()}}
        )

    def diff(self, desired: Desired, actual: Actual) -> tuple[FieldChange, ...]:
        return tuple(
            FieldChange(k, actual.properties.get(k), v)
            for k, v in desired.properties.items()
            if actual.properties.get(k) != v
        )

    async def _write(self, desired: Desired) -> Actual:
        self.store.writes += 1
        await anyio.sleep(self.store.latency)
        self.store.records[(self.kind, desired.name)] = dict(desired.properties)
        return Actual(
            desired.address, self.kind, desired.name, dict(desired.properties), {"id": desired.address}
        )

    async def create(self, desired: Desired) -> Actual:
        return await self._write(desired)

    async def update(self, desired: Desired, actual: Actual) -> Actual:
        return await self._write(desired)

    async def delete(self, actual: Actual) -> None:
        self.store.writes += 1
        await anyio.sleep(self.store.latency)
        self.store.records.pop((self.kind, actual.name), None)


def fake_target_outputs() -> dict[str, Any]:
    return {
        "tenant_id": "t",
        "subscription_id": "s",
        "authority": "https://login.example",
        "issuer": "https://login.example/t/v2.0",
        "graph_endpoint": "https://graph.example",
    }


async def fake_run(
    lab: Any, nodes: list[NodeInput], store: Store, parallelism: int
) -> tuple[RunReport, float]:
    kinds = {n.kind for n in nodes}
    providers: dict[str, Any] = {k: LatencyProvider(k, store) for k in kinds}
    options = ReconcileOptions(yes=True, parallelism=parallelism, verify=False)
    started = time.monotonic()
    report = await execute(
        lab.name,
        nodes,
        providers,
        options,
        quiet_terminal(),
        resolver=spec_resolver(lab, fake_target_outputs()),
    )
    return report, time.monotonic() - started


def bench_fake(lab: Any, nodes: list[NodeInput], args: argparse.Namespace) -> None:
    latency = args.latency_ms / 1000
    print(f"\n[fake providers, {args.latency_ms} ms per call, {len(nodes)} resources]")
    store = Store(latency)
    report, wall = anyio.run(fake_run, lab, nodes, store, args.parallelism)
    assert report.result is not None
    assert report.result.ok, "full create failed"
    print(f"full create, parallelism {args.parallelism}: {wall:.2f} s ({store.writes} writes)")
    if not args.no_serial:
        serial = Store(latency)
        report1, wall1 = anyio.run(fake_run, lab, nodes, serial, 1)
        assert report1.result is not None
        assert report1.result.ok
        print(
            f"full create, parallelism 1: {wall1:.2f} s -> {wall1 / wall:.1f}x faster at {args.parallelism}"
        )
    store.reads = store.writes = 0
    noop, wall_noop = anyio.run(fake_run, lab, nodes, store, args.parallelism)
    assert not noop.plan.has_changes, "second run planned changes"
    print(
        f"no-op reconcile: {wall_noop:.2f} s, {store.reads} read calls for {len(nodes)} owned resources "
        f"({store.reads / len(nodes):.3f} per resource), {store.writes} writes, "
        f"planning CPU {noop.plan_seconds:.3f} s"
    )


# ------------------------------------------------------------------ emulator (real SDKs)


async def emulator_run(
    lab: Any, nodes: list[NodeInput], emu: Any, parallelism: int, destroy: bool = False
) -> tuple[RunReport, float, Any]:
    from orchestrator.providers import providers_for
    from orchestrator.target import TargetSettings, open_clients

    settings = TargetSettings(
        kind="local",
        subscription_id=emu.subscription_id,
        tenant_id=emu.tenant_id,
        resource_group=lab.target.resource_group,
        location=lab.target.location,
        base_url=emu.base_url,
        ca_file=emu.ca_file,
    )
    options = ReconcileOptions(yes=True, parallelism=parallelism, verify=False, destroy=destroy)
    started = time.monotonic()
    async with open_clients(settings) as clients:
        report = await execute(
            lab.name,
            nodes,
            providers_for(clients, lab),
            options,
            quiet_terminal(),
            resolver=spec_resolver(lab, settings.outputs()),
        )
        stats = clients.pacer.stats if clients.pacer is not None else None
    return report, time.monotonic() - started, stats


# Azure's subscription buckets (emulator.arm.throttle.AZURE_LIMITS; Learn, "Understand how Azure
# Resource Manager throttles requests"): op type -> (size, refill per second)
_BUCKETS = {"reads": (250.0, 25.0), "writes": (200.0, 10.0), "deletes": (200.0, 10.0)}


def _op_type(method: str) -> str:
    return "reads" if method in ("GET", "HEAD") else "deletes" if method == "DELETE" else "writes"


def throttling_figures(requests: list[dict[str, Any]]) -> tuple[float, dict[str, int], int, int]:
    """(token-bucket floor in seconds, accepted ARM requests per op type, write requests, of them 429)."""
    accepted = dict.fromkeys(_BUCKETS, 0)
    writes = throttled = 0
    for r in requests:
        if r.get("api") != "arm" or not str(r.get("path", "")).lower().startswith("/subscriptions/"):
            continue
        op = _op_type(str(r["method"]))
        if op != "reads":
            writes += 1
            throttled += r.get("status") == 429
        if r.get("status") != 429:
            accepted[op] += 1
    floor = max(max(0.0, (accepted[op] - size) / refill) for op, (size, refill) in _BUCKETS.items())
    return floor, accepted, writes, throttled


def _count(requests: list[dict[str, Any]]) -> tuple[int, int]:
    reads = sum(1 for r in requests if r.get("api") in ("arm", "graph") and r.get("method") == "GET")
    writes = sum(1 for r in requests if r.get("api") in ("arm", "graph") and r.get("method") != "GET")
    return reads, writes


def _failures(report: RunReport) -> str:
    if report.result is None:
        return ""
    failed = [o for o in report.result.outcomes if not o.status.ok]
    return "; ".join(f"{o.address}: {o.status.value} {o.message}" for o in failed[:5])


def bench_emulator(lab: Any, nodes: list[NodeInput], args: argparse.Namespace, root: Path) -> None:
    from tests.support.emulator import start_emulator

    print(
        f"\n[emulator through the Azure SDKs, {args.latency_ms} ms injected per ARM/Graph request, {len(nodes)} resources]"
    )
    throttling = args.arm_throttling == "on"
    # said both ways: tests.support.emulator.start_emulator turns throttling off unless told
    flags = ("--arm-throttling", "on" if throttling else "off")
    print(
        f"ARM throttling: {'Azure numbers (reads 250 + 25/s, writes 200 + 10/s, deletes 200 + 10/s)' if throttling else 'off'}"
    )
    emu = start_emulator(root / "state-parallel", *flags)
    try:
        emu.set_faults(latency_ms=args.latency_ms)
        before = len(emu.requests())
        report, wall, stats = anyio.run(emulator_run, lab, nodes, emu, args.parallelism)
        created = emu.requests()[before:]
        reads, writes = _count(created)
        ok = report.result is not None and report.result.ok
        print(
            f"full create, parallelism {args.parallelism}: {wall:.2f} s ({writes} writes, {reads} reads)"
            + ("" if ok else f"  FAILED: {_failures(report)}")
        )
        if throttling:
            floor, accepted, arm_writes, throttled = throttling_figures(created)
            print(
                f"  token-bucket floor {floor:.2f} s (ARM accepted: {accepted['writes']} writes, "
                f"{accepted['deletes']} deletes, {accepted['reads']} reads) -> {wall / max(floor, 1e-9):.3f}x the floor; "
                f"{throttled} of {arm_writes} ARM write requests answered 429 ({100 * throttled / max(arm_writes, 1):.2f}%); "
                f"pacer: {stats.waits if stats else 0} paced requests, {stats.waited_seconds if stats else 0:.1f} s waited in total"
            )
        before = len(emu.requests())
        noop, wall_noop, stats = anyio.run(emulator_run, lab, nodes, emu, args.parallelism)
        reads, writes = _count(emu.requests()[before:])
        owned = sum(1 for s in noop.plan.steps if s.actual is not None)
        print(
            f"no-op reconcile: {wall_noop:.2f} s, planned changes: {len(noop.plan.changes)}, {reads} read requests "
            f"for {owned} owned resources ({reads / max(owned, 1):.3f} per resource), {writes} write requests, "
            f"planning CPU {noop.plan_seconds:.3f} s"
        )
    finally:
        emu.stop()
    if args.no_serial:
        return
    emu1 = start_emulator(root / "state-serial", *flags)
    try:
        emu1.set_faults(latency_ms=args.latency_ms)
        report1, wall1, _ = anyio.run(emulator_run, lab, nodes, emu1, 1)
        ok = report1.result is not None and report1.result.ok
        print(
            f"full create, parallelism 1: {wall1:.2f} s -> {wall1 / wall:.1f}x faster at {args.parallelism}"
            + ("" if ok else f"  FAILED: {_failures(report1)}")
        )
    finally:
        emu1.stop()


# ------------------------------------------------------------------ pure planning with the real providers


def _offline_clients() -> Any:
    """``target.Clients`` without SDK clients: enough for the providers' pure ``desired``/``diff``."""
    from orchestrator.target import Clients, TargetSettings

    settings = TargetSettings(
        "azure",
        "00000000-0000-0000-0000-000000000000",
        "00000000-0000-0000-0000-0000000000aa",
        "rg-bench",
        "ukwest",
    )
    return Clients(settings, apim=None, resources=None, graph=None)


def bench_planning(lab: Any, nodes: list[NodeInput]) -> None:
    """Planning CPU with the real providers (policy rendering, canonicalisation), no network:
    a full-create plan (nothing exists), then a no-op plan over actuals equal to the desired state."""
    from orchestrator.plan import build_plan
    from orchestrator.providers import providers_for

    providers = providers_for(_offline_clients(), lab)
    resolver = spec_resolver(lab, fake_target_outputs())
    cpu = time.process_time()
    create = build_plan(lab.name, nodes, providers, {}, resolver)
    create_cpu = time.process_time() - cpu
    outputs = {
        name: f"https://{name}.example" if name in ("gateway_url", "url") else f"{name}-value"
        for name in (
            "client_id",
            "object_id",
            "principal_id",
            "resource_id",
            "tenant_id",
            "gateway_url",
            "name",
            "url",
            "fqdn",
            "connection_string",
            "instrumentation_key",
        )
    }
    actuals = {
        s.address: Actual(s.address, s.kind, s.name, dict(s.desired.properties), outputs)
        for s in create.steps
        if s.desired is not None
    }
    # a second derivation with every output known gives the state a finished apply leaves
    settled = build_plan(lab.name, nodes, providers, actuals, resolver)
    actuals = {
        s.address: Actual(s.address, s.kind, s.name, dict(s.desired.properties), outputs)
        for s in settled.steps
        if s.desired is not None
    }
    cpu = time.process_time()
    noop = build_plan(lab.name, nodes, providers, actuals, resolver)
    noop_cpu = time.process_time() - cpu
    print(f"\n[pure planning with the real providers, {len(nodes)} resources, no network]")
    print(f"full-create plan: {create_cpu:.3f} s CPU ({len(create.changes)} changes)")
    print(f"no-op plan: {noop_cpu:.3f} s CPU ({len(noop.changes)} changes)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["fake", "plan", "emulator", "both", "all"], default="all")
    parser.add_argument("--apis", type=int, default=200)
    parser.add_argument("--ops", type=int, default=5)
    parser.add_argument("--named-values", type=int, default=200)
    parser.add_argument("--apps", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--no-serial", action="store_true", help="skip the --parallelism 1 runs (slow)")
    parser.add_argument(
        "--arm-throttling",
        choices=["on", "off"],
        default="on",
        help="the emulator's ARM token buckets (Azure's numbers) in emulator mode",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="prmlab-bench-") as tmp:
        root = Path(tmp)
        lab_file = generate_lab(
            root, apis=args.apis, ops=args.ops, named_values=args.named_values, apps=args.apps
        )
        cpu = time.process_time()
        lab, nodes = load_nodes(lab_file)
        print(
            f"lab: {args.apis} APIs x {args.ops} operations (API policies), {args.named_values} named values, "
            f"{args.apps} apps -> {len(nodes)} resources; load + graph CPU {time.process_time() - cpu:.3f} s"
        )
        if args.mode in ("plan", "all"):
            bench_planning(lab, nodes)
        if args.mode in ("fake", "both", "all"):
            bench_fake(lab, nodes, args)
        if args.mode in ("emulator", "both", "all"):
            bench_emulator(lab, nodes, args, root)


if __name__ == "__main__":
    main()
