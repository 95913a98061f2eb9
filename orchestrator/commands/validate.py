"""``prmlab validate``: load lab.yaml and report every problem at once (exit 2), or OK.

Runs the whole load (``labfile.load``: YAML, models, references, policy variables, then the
resource graph, which finds cycles); touches no target. Problems are raised as one
``SpecError``, which ``cli.main`` prints as ``lab.yaml:LINE:COL: yaml.path: message`` lines — or,
with ``--output json``/``--json``, as a diagnostics document on stdout (``output.diagnostics``,
like ``terraform validate -json``).
The global names lab.yaml leaves out are listed (text output): derived (``spec.defaults``) when
the subscription is in lab.yaml (``target: azure``), else said to be derived from the emulator's.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from orchestrator.commands.options import lab_file_option, output_option


@click.command(help="Check lab.yaml and report every problem at once (exit code 2 when invalid).")
@lab_file_option("The lab to check.")
@output_option()
def command(lab_file: Path, output: str) -> int:
    from orchestrator.labfile import load
    from orchestrator.spec.defaults import derived_names

    lab, graph = load(lab_file)
    if output == "json":
        from orchestrator.output.diagnostics import validate_document

        click.echo(json.dumps(validate_document(len(graph)), indent=2))
        return 0
    click.echo(f"{lab_file}: OK ({len(graph)} resources)")
    target = lab.target
    if target.kind == "azure":
        for path, name in derived_names(lab, str(target.subscription_id)).items():
            click.echo(f"  {path}: {name} (derived from the subscription, resource group and lab name)")
    else:
        for path in derived_names(lab, "local"):
            click.echo(f"  {path}: derived from the local emulator's subscription (shown in the plan)")
    return 0
