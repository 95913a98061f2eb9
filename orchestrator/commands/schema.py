"""``prmlab schema``: write the JSON Schema of lab.yaml, generated from the spec models.

The committed ``lab.schema.json`` is this command's output (a test fails when it is stale);
lab.yaml's first line points editors at it for completion and checking.
"""

from __future__ import annotations

import json
from pathlib import Path

import click


def schema_text() -> str:
    """The schema as written to disk (stable key order, trailing newline)."""
    from orchestrator.spec import lab_schema

    return json.dumps(lab_schema(), indent=2, ensure_ascii=False) + "\n"


@click.command(help="Write lab.schema.json, the JSON Schema of lab.yaml ('-' for stdout).")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    default=Path("lab.schema.json"),
    show_default=True,
    help="Where to write the schema.",
)
def command(output: Path) -> int:
    text = schema_text()
    if str(output) == "-":
        click.echo(text, nl=False)
        return 0
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}")
    return 0
