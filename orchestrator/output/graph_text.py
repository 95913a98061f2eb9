"""The lab's dependency graph drawn for people and machines: Graphviz DOT, Mermaid, JSON (pure).

Flow: ``prmlab graph`` loads the lab (``labfile.load`` -> ``graph.ResourceGraph``) and prints one
of these. An edge ``a -> b`` reads "a depends on b" (b is created first), as in the graph's cycle
message. Each edge is labelled with what makes it: the references (``{ref: ...}``) of ``a``
whose output ``b`` provides, the named values (``{{Name}}``) a policy uses, or nothing for a
structural edge (an API on its service, an operation on its API). Late-bound references
(``graph.Node.deferred``: an app's redirect URIs, set by an update after the server exists) are
drawn dashed; they do not order the creation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from orchestrator.graph import Node, ResourceGraph
from orchestrator.kinds import Kind
from orchestrator.output.format import FORMAT_VERSION
from orchestrator.spec.models import Policy
from orchestrator.spec.refs import provider_node
from orchestrator.spec.values import NamedValueToken


@dataclass(frozen=True, slots=True)
class Edge:
    source: str  # depends on ...
    target: str  # ... this one
    labels: tuple[str, ...]  # references / {{named values}}; empty for a structural edge
    late: bool = False  # a late-bound reference: not an ordering edge


def _policy_tokens(node: Node) -> set[str]:
    """The named values a policy node uses through ``{named_value: Name}`` variables."""
    if not isinstance(node.spec, Policy):
        return set()
    names: set[str] = set()
    for value in node.spec.variables.values():
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, NamedValueToken):
                names.add(item.named_value)
    return names


def edges(graph: ResourceGraph) -> list[Edge]:
    """Every edge, sorted by (source, target)."""
    found: list[Edge] = []
    for node in graph:
        by_provider: dict[str, set[str]] = {}
        for _, ref in node.refs:
            provider = provider_node(ref)
            if provider is not None:
                by_provider.setdefault(provider, set()).add(ref.ref)
        tokens = _policy_tokens(node)
        for target in sorted(node.depends_on | node.deferred):
            labels = set(by_provider.get(target, ()))
            if target.startswith(f"{Kind.NAMED_VALUE.value}.") and target.split(".", 1)[1] in tokens:
                labels.add("{{" + target.split(".", 1)[1] + "}}")
            found.append(Edge(node.address, target, tuple(sorted(labels)), target not in node.depends_on))
    return sorted(found, key=lambda e: (e.source, e.target))


def _nodes(graph: ResourceGraph) -> list[Node]:
    return sorted(graph, key=lambda n: n.address)


def to_dot(graph: ResourceGraph, name: str) -> str:
    def q(text: str) -> str:
        return json.dumps(text)  # a DOT ID in double quotes: JSON's escaping is DOT's

    lines = [f"digraph {q(name)} {{", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for node in _nodes(graph):
        lines.append(f"  {q(node.address)} [label={q(node.address + chr(10) + '(' + node.kind + ')')}];")
    for edge in edges(graph):
        attrs = [f"label={q(', '.join(edge.labels))}"] if edge.labels else []
        if edge.late:
            attrs.append("style=dashed")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {q(edge.source)} -> {q(edge.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(graph: ResourceGraph) -> str:
    ids = {node.address: f"n{i}" for i, node in enumerate(_nodes(graph))}

    def text(value: str) -> str:
        return value.replace('"', "#quot;")

    lines = ["flowchart LR"]
    for node in _nodes(graph):
        lines.append(f'  {ids[node.address]}["{text(node.address)}<br/>({node.kind})"]')
    for edge in edges(graph):
        arrow = "-.->" if edge.late else "-->"
        label = f'|"{text(", ".join(edge.labels))}"|' if edge.labels else ""
        lines.append(f"  {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
    return "\n".join(lines) + "\n"


def graph_document(graph: ResourceGraph, lab: str) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "command": "graph",
        "lab": lab,
        "nodes": [{"address": n.address, "kind": n.kind} for n in _nodes(graph)],
        "edges": [
            {"from": e.source, "to": e.target, "labels": list(e.labels), "late": e.late} for e in edges(graph)
        ],
    }


GRAPH_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "prmlab graph --format json",
    "type": "object",
    "required": ["format_version", "command", "lab", "nodes", "edges"],
    "additionalProperties": False,
    "properties": {
        "format_version": {"const": FORMAT_VERSION},
        "command": {"const": "graph"},
        "lab": {"type": "string"},
        "nodes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["address", "kind"],
                "additionalProperties": False,
                "properties": {
                    "address": {"type": "string", "description": "<kind>.<key>, e.g. api.mcp"},
                    "kind": {"enum": [k.value for k in Kind]},
                },
            },
        },
        "edges": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["from", "to", "labels", "late"],
                "additionalProperties": False,
                "properties": {
                    "from": {"type": "string", "description": "the dependant"},
                    "to": {"type": "string", "description": "what it depends on (created first)"},
                    "labels": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "the references / {{named values}} that make the edge; [] structural",
                    },
                    "late": {"type": "boolean", "description": "late-bound: set by an update, not ordering"},
                },
            },
        },
    },
}
