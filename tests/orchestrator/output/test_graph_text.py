"""``prmlab graph``'s drawings of the default lab: every node and edge, labelled by reference."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from orchestrator.cli import main
from orchestrator.labfile import load
from orchestrator.output.graph_text import edges, graph_document, to_dot, to_mermaid
from orchestrator.output.schemas import SCHEMA_DIR

ROOT = Path(__file__).resolve().parents[3]


def test_edges_are_the_graphs_dependencies_labelled_by_what_makes_them() -> None:
    _, graph = load(ROOT / "lab.yaml")
    found = {(e.source, e.target): e for e in edges(graph)}
    expected = {(n.address, d) for n in graph for d in n.depends_on | n.deferred}
    assert set(found) == expected
    assert found[("named_value.McpClientId", "entra_app.mcp")].labels == ("entra.apps.mcp.client_id",)
    assert found[("api_policy.mcp", "named_value.McpClientId")].labels == ("{{McpClientId}}",)
    assert found[("api_policy.mcp", "api.mcp")].labels == ()  # structural: a policy on its API
    late = found[("entra_app.mcp", "container_app.server")]  # redirect URI on the server's URL
    assert late.late
    assert late.labels == ("server.url",)
    assert sum(e.late for e in found.values()) == 1


def test_dot_has_every_node_and_edge() -> None:
    lab, graph = load(ROOT / "lab.yaml")
    dot = to_dot(graph, lab.name)
    assert dot.startswith(f'digraph "{lab.name}" {{\n')
    assert dot.endswith("}\n")
    assert len(re.findall(r'^  "[^"]+" \[label=', dot, re.M)) == len(graph)
    assert len(re.findall(r"^  \"[^\"]+\" -> ", dot, re.M)) == len(edges(graph))
    assert '"entra_app.mcp" -> "container_app.server" [label="server.url", style=dashed];' in dot
    assert '"api_policy.mcp" -> "api.mcp";' in dot


def test_mermaid_has_every_node_and_edge() -> None:
    _, graph = load(ROOT / "lab.yaml")
    text = to_mermaid(graph)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    ids = dict(re.findall(r'^  (n\d+)\["([^<]+)<br/>', text, re.M))
    assert sorted(ids.values()) == sorted(n.address for n in graph)
    by_address = {a: i for i, a in ids.items()}
    late = f'  {by_address["entra_app.mcp"]} -.->|"server.url"| {by_address["container_app.server"]}'
    assert late in lines
    assert sum(1 for line in lines if re.match(r"^  n\d+ -(->|\.->)", line)) == len(edges(graph))


def test_json_document_is_valid() -> None:
    lab, graph = load(ROOT / "labs" / "gateway.yaml")
    doc = graph_document(graph, lab.name)
    jsonschema.validate(doc, json.loads((SCHEMA_DIR / "graph.schema.json").read_text(encoding="utf-8")))
    assert len(doc["nodes"]) == len(graph)


@pytest.mark.parametrize(
    ("flag", "start"), [([], "digraph"), (["--format", "mermaid"], "flowchart LR"), (["--json"], "{")]
)
def test_the_command_prints_each_format(
    flag: list[str], start: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["graph", "-f", str(ROOT / "lab.yaml"), *flag])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(start)
