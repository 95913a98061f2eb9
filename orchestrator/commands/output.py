"""``prmlab output [NAME]``: the lab's outputs read from its target, like ``terraform output``.

Reads what the lab owns (``engine.read_outputs``, a reconcile's read step; the local target's
emulator is started if needed), names the values (``output.lab_outputs``) and prints them:
every output as ``name = value``, one output's value alone (a string bare, for shell use:
``curl "$(prmlab output prm_url)"``), or a JSON document (``--output json``/``--json``,
``output.json_doc.output_document``). Exit codes: 0; 1 the lab has nothing on its target or
the target failed; 2 lab.yaml is invalid or NAME is unknown.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from orchestrator.commands.options import lab_file_option, output_option

HELP = """Print the lab's outputs, read from its target: MCP URL(s), PRM URL(s), the
authorization server, client ids, gateway and server URLs, a VS Code mcp.json entry.

\b
prmlab output                 every output, name = value
prmlab output mcp_url         one value (a string bare: "$(prmlab output mcp_url)")
prmlab output --json          a JSON document (docs/json-output.md)
"""


def _known_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from orchestrator.output.lab_outputs import DESCRIPTIONS

    if value is not None and value not in DESCRIPTIONS:
        raise click.BadParameter(f"unknown output {value!r}: the outputs are {', '.join(DESCRIPTIONS)}")
    return value


def render_text(values: dict[str, Any], name: str | None) -> str:
    """``name = value`` lines (JSON values; maps indented), or one value alone."""
    if name is not None:
        value = values[name]
        return value if isinstance(value, str) else json.dumps(value, indent=2)
    width = max(len(n) for n in values)
    lines = []
    for key, value in values.items():
        shown = json.dumps(value, indent=2) if isinstance(value, dict) and value else json.dumps(value)
        lines.append(f"{key.ljust(width)} = {shown}")
    return "\n".join(lines)


@click.command("output", help=HELP)
@click.argument("name", required=False, callback=_known_name)
@lab_file_option("The lab whose outputs to print.")
@output_option()
def command(name: str | None, lab_file: Path, output: str) -> int:
    import anyio

    from orchestrator.engine import read_outputs
    from orchestrator.errors import PrmlabError
    from orchestrator.labfile import complete, load
    from orchestrator.output.json_doc import output_document
    from orchestrator.output.lab_outputs import deployed, lab_outputs
    from orchestrator.target import TargetSettings

    lab, _ = load(lab_file)
    settings = TargetSettings.for_lab(lab)
    lab, graph = complete(lab, settings.subscription_id)  # the derived global names
    node_outputs = anyio.run(read_outputs, lab, graph, settings)
    values = lab_outputs(
        lab, node_outputs, settings.outputs(), settings.ca_file if settings.kind == "local" else None
    )
    if not deployed(values):
        raise PrmlabError(
            f"lab {lab.name!r} has nothing on its {settings.kind} target: run `prmlab reconcile` first"
        )
    if output == "json":
        shown = {name: values[name]} if name is not None else values
        sys.stdout.write(json.dumps(output_document(lab.name, settings.kind, shown), indent=2) + "\n")
    else:
        click.echo(render_text(values, name))
    return 0
