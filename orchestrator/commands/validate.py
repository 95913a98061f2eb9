"""``prmlab validate``: load lab.yaml and report every problem at once (exit 2), or OK.

Runs the whole load (``labfile.load``: YAML, models, references, policy variables, then the
resource graph, which finds cycles); touches no target. Problems are raised as one
``SpecError``, which ``cli.main`` prints as ``lab.yaml:LINE:COL: yaml.path: message`` lines.
"""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.commands.options import lab_file_option


@click.command(help="Check lab.yaml and report every problem at once (exit code 2 when invalid).")
@lab_file_option("The lab to check.")
def command(lab_file: Path) -> int:
    from orchestrator.labfile import load

    _, graph = load(lab_file)
    click.echo(f"{lab_file}: OK ({len(graph)} resources)")
    return 0
