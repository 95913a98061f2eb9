"""Helpers for provider tests against the emulator: a uniquely named copy of the default lab,
clients wired by ``orchestrator.target``, and a minimal converge loop (read -> create/update)
that resolves references exactly as the engine does (``orchestrator.spec.refs.resolve``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from orchestrator.graph import Node, build_graph
from orchestrator.resource import Actual, Desired
from orchestrator.spec import parse_lab
from orchestrator.spec.defaults import with_global_names
from orchestrator.spec.models import Lab
from orchestrator.target import Clients, TargetSettings, open_clients
from tests.support.emulator import RunningEmulator

ROOT = Path(__file__).resolve().parents[3]
TEST_SUBSCRIPTION = "00000000-0000-4000-8000-000000000516"


def unique_lab(**env: str) -> Lab:
    """The default lab with its own name, resource group and global names (tests share one emulator)."""
    suffix = uuid.uuid4().hex[:8]
    text = (ROOT / "lab.yaml").read_text()
    text = text.replace("name: mcp-prm-oauth\n", f"name: t{suffix}\n", 1)
    text = text.replace("resource_group: lab-mcp-prm-oauth", f"resource_group: rg-{suffix}", 1)
    text = text.replace("unique_name: mcp-prm-oauth-app", f"unique_name: app-{suffix}", 1)
    lab, positions = parse_lab(text, env=env, base_dir=ROOT)
    lab._positions = positions
    # global names (APIM, registry) derived as the engine derives them: unique per test
    return with_global_names(lab, TEST_SUBSCRIPTION)


@asynccontextmanager
async def local_clients(emulator: RunningEmulator, lab: Lab, **settings: Any) -> AsyncIterator[Clients]:
    target = TargetSettings(
        kind="local",
        subscription_id=emulator.subscription_id,
        tenant_id=emulator.tenant_id,
        resource_group=lab.target.resource_group,
        location=lab.target.location,
        base_url=emulator.base_url,
        ca_file=emulator.ca_file,
        **{"sdk_retries": 0, **settings},
    )
    async with open_clients(target) as clients:
        yield clients


def target_outputs(emulator: RunningEmulator) -> dict[str, Any]:
    """``target.*`` of the emulator's target (``TargetSettings.outputs``)."""
    settings = TargetSettings(
        "local", emulator.subscription_id, emulator.tenant_id, "rg", "local", base_url=emulator.base_url
    )
    return dict(settings.outputs())


class Converger:
    """Drives providers node by node, as the executor would, for a subset of kinds."""

    def __init__(
        self, lab: Lab, providers: Mapping[str, Any], target: Mapping[str, Any], fake: Mapping[str, Any]
    ) -> None:
        self.lab = lab
        self.providers = providers
        self.target = target
        self.fake = dict(fake)  # "<address>.<output>" -> value, for providers outside the test
        self.outputs: dict[str, Mapping[str, Any]] = {}
        self.graph = build_graph(lab)

    def nodes(self, kinds: Iterable[str]) -> list[Node]:
        wanted = set(kinds)
        order = self.graph.topological_order()
        return [self.graph[a] for a in order if self.graph[a].kind in wanted]

    def resolved(self, node: Node) -> dict[str, Any]:
        from orchestrator.spec.refs import resolve

        out: dict[str, Any] = {}
        for _, ref in node.refs:
            bare = ref.model_copy(update={"suffix": ""})
            out[ref.ref] = (
                self.fake[ref.ref]
                if ref.ref in self.fake
                else resolve(bare, self.lab, self.outputs, self.target)
            )
        return out

    def desired(self, node: Node) -> Desired:
        desired: Desired = self.providers[node.kind].desired(node.address, node.spec, self.resolved(node))
        return desired

    async def read(self, nodes: Iterable[Node]) -> dict[str, Actual]:
        by_kind: dict[str, dict[str, Desired | None]] = {}
        for node in nodes:
            by_kind.setdefault(node.kind, {})[node.address] = self.desired(node)
        found: dict[str, Actual] = {}
        for kind, addresses in by_kind.items():
            found.update(await self.providers[kind].read(self.lab.name, addresses))
        return found

    async def converge(self, kinds: Iterable[str]) -> dict[str, Actual]:
        result: dict[str, Actual] = {}
        for node in self.nodes(kinds):
            provider = self.providers[node.kind]
            desired = self.desired(node)
            actual = (await provider.read(self.lab.name, {node.address: desired})).get(node.address)
            if actual is None:
                actual = await provider.create(desired)
            elif provider.diff(desired, actual):
                actual = await provider.update(desired, actual)
            self.outputs[node.address] = actual.outputs
            result[node.address] = actual
        return result


def reads(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("api") in ("arm", "graph") and e.get("method") == "GET"]


def writes(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("api") in ("arm", "graph") and e.get("method") != "GET"]
