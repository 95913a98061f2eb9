"""``prmlab state``: what the lab owns on its target, with ids (``terraform state list``).

Reads the target as a reconcile's read step does (``engine.read_state``: every provider lists
what carries the lab's ownership mark, including leftovers no longer in lab.yaml, which a
reconcile would delete) and prints one line per resource: address, name, id (the ARM id or the
Graph object id). ``--output json``: ``output.state_doc``. Exit codes: 0; 1 the target failed;
2 lab.yaml is invalid.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from orchestrator.commands.options import lab_file_option, output_option


@click.command("state")
@lab_file_option("The lab whose resources to list.")
@output_option()
def command(lab_file: Path, output: str) -> int:
    """List what the lab owns on its target: address, name and id of each resource."""
    import anyio

    from orchestrator.engine import read_state
    from orchestrator.labfile import complete, load
    from orchestrator.output.state_doc import entries, state_document, state_text
    from orchestrator.target import TargetSettings

    lab, _ = load(lab_file)
    settings = TargetSettings.for_lab(lab)
    lab, graph = complete(lab, settings.subscription_id)  # the derived global names
    actuals = anyio.run(read_state, lab, graph, settings)
    found = entries(actuals, frozenset(n.address for n in graph))
    if output == "json":
        click.echo(json.dumps(state_document(lab.name, settings.kind, found), indent=2))
    else:
        click.echo(state_text(found, lab.name, settings.kind), nl=False)
    return 0
