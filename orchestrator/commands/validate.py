"""``prmlab validate``: load lab.yaml and report every problem at once (exit 2), or OK.

Runs the whole load (``labfile.load``: YAML, models, references, policy variables, then the
resource graph, which finds cycles); touches no target. Problems are raised as one
``SpecError``, which ``cli.main`` prints as ``lab.yaml:LINE:COL: yaml.path: message`` lines.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command(help="Check lab.yaml and report every problem at once (exit code 2 when invalid).")
@click.option(
    "-f",
    "--file",
    "lab_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("lab.yaml"),
    show_default=True,
    help="The lab to check.",
)
def command(lab_file: Path) -> int:
    from orchestrator.labfile import load

    _, graph = load(lab_file)
    click.echo(f"{lab_file}: OK ({len(graph)} resources)")
    return 0
