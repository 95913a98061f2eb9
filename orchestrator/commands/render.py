"""``prmlab render``: every policy of the lab as APIM policy XML, checked well-formed.

Flow: ``labfile.load`` (a ``SpecError`` exits 2) -> ``render_lab_policies`` with the static
resolver (references that only exist after apply print as ``(known after apply)``) -> stdout,
one header comment per policy, or one ``<address>.xml`` file per policy in ``--output``.
Every policy is rendered before failing, so all render errors are reported at once (exit 1).
"""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.commands.options import lab_file_option
from orchestrator.errors import RenderError


def _comment(text: str) -> str:
    # "--" is not allowed inside an XML comment.
    return "<!-- " + text.replace("--", "- -") + " -->"


@click.command(
    "render",
    help="Render every policy of the lab to APIM policy XML (stdout, or one file per policy with -o).",
)
@lab_file_option("The lab to render.")
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write <policy address>.xml files into this folder instead of printing.",
)
def command(lab_file: Path, out_dir: Path | None) -> int:
    from orchestrator.labfile import load
    from orchestrator.render.lab import (
        iter_unknown,
        lab_policies,
        policy_variables,
        render_lab_policy,
        static_resolver,
    )

    lab, _ = load(lab_file)
    resolve = static_resolver(lab)
    rendered: list[tuple[str, str, str]] = []  # (address, header, xml)
    errors: list[str] = []
    for item in lab_policies(lab):
        try:
            xml = render_lab_policy(lab, item, resolve)
        except RenderError as exc:
            errors.append(exc.message)
            continue
        unknown = sorted(iter_unknown(policy_variables(lab, item.policy, resolve)))
        header = f"{item.address} (template {item.policy.template})"
        if unknown:
            header += f"; known after apply: {', '.join(unknown)}"
        rendered.append((item.address, header, xml))
    if errors:
        raise RenderError("\n".join(errors))

    if out_dir is None:
        for index, (_, header, xml) in enumerate(rendered):
            if index:
                click.echo("")
            click.echo(_comment(header))
            click.echo(xml, nl=not xml.endswith("\n"))
        return 0

    out_dir.mkdir(parents=True, exist_ok=True)
    for address, _, xml in rendered:
        (out_dir / f"{address}.xml").write_text(xml, encoding="utf-8")
    click.echo(f"wrote {len(rendered)} policies to {out_dir}", err=True)
    return 0
