"""``prmlab doctor``: can you build this lab on its target? (read-only, ``orchestrator.preflight``)

Prints one line per check: ``ok    <check>: …`` or ``FAIL  <check>: <problem>  fix: <command>``
(sign-in and tenant, resource providers registered, your rights on the resource group — on the
subscription while the group does not exist — your
Microsoft Graph rights for the lab's applications and admin consent, the global names
available), then what it does not check. Exit codes: 0 every check passed; 1 a
problem (or the target failed); 2 lab.yaml is invalid. Reconcile runs the same checks on an
``azure`` target before its first write.
"""

from __future__ import annotations

from pathlib import Path

import click

from orchestrator.commands.options import lab_file_option

NOT_CHECKED = (
    "not checked: the tenant's 'Users can register applications' setting (no token shows it), "
    "deny assignments and role assignment conditions"
)


@click.command("doctor")
@lab_file_option("The lab to check its target for.")
def command(lab_file: Path) -> int:
    """Check the target before building the lab: sign-in, providers, rights, global names."""
    import anyio

    from orchestrator.labfile import complete, load
    from orchestrator.preflight import run
    from orchestrator.target import TargetSettings

    lab, _ = load(lab_file)
    settings = TargetSettings.for_lab(lab)
    lab, graph = complete(lab, settings.subscription_id)
    findings = anyio.run(run, lab, graph, settings)
    for finding in findings:
        click.echo(finding.line())
    click.echo(NOT_CHECKED)
    return 1 if any(f.problem for f in findings) else 0
