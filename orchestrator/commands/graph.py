"""``prmlab graph``: the lab's dependency graph as Graphviz DOT, Mermaid or JSON (no target).

Loads the lab (``labfile.load``: spec, then the graph) and prints ``output.graph_text``: nodes are
resources (address and kind), an edge ``a -> b`` says a depends on b and is labelled with the
references that make it; late-bound references are dashed. ``prmlab graph | dot -Tsvg > lab.svg``;
Mermaid renders in GitHub Markdown and VS Code. Exit codes: 0; 2 lab.yaml is invalid.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from orchestrator.commands.options import lab_file_option


@click.command("graph")
@lab_file_option("The lab to draw.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["dot", "mermaid", "json"]),
    default="dot",
    show_default=True,
    help="dot (Graphviz: prmlab graph | dot -Tsvg > lab.svg), mermaid, or a JSON document.",
)
@click.option("--json", "fmt", flag_value="json", help="Same as --format json.")
def command(lab_file: Path, fmt: str) -> int:
    """Draw the lab's dependency graph: resources, and edges labelled with the references that
    make them (a -> b: a depends on b)."""
    from orchestrator.labfile import load
    from orchestrator.output.graph_text import graph_document, to_dot, to_mermaid

    lab, graph = load(lab_file)
    if fmt == "json":
        click.echo(json.dumps(graph_document(graph, lab.name), indent=2))
    elif fmt == "mermaid":
        click.echo(to_mermaid(graph), nl=False)
    else:
        click.echo(to_dot(graph, lab.name), nl=False)
    return 0
