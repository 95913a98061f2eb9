"""Emulator sub-app: the runner — container apps as local processes.

Where it sits: the ARM layer stores ``microsoft.app/containerapps`` resources (ARM GET JSON,
ingress ``fqdn = 127.0.0.1:<port>`` allocated at create) and publishes an event after each
write; ``run(ctx)`` (started by ``emulator.server``) reacts by starting, restarting or stopping
``python -m mcp_server`` processes and records their state in the stored resource. See
``spec`` (the image rule and what is read), ``environment`` (what each process gets),
``process`` (start/health/stop of one process group), ``status`` (what is written back) and
``supervisor`` (the control loop).

Contract with the identity service: for each process the runner stores
``runner/identity-header`` / ``sha256(secret).hexdigest()`` -> ``{"containerAppId": <lower-case
ARM id>}`` (parent = that id) and gives the process ``IDENTITY_ENDPOINT=<base>/msi/token`` and
``IDENTITY_HEADER=<secret>``; the record is deleted when the process stops (and all are cleared
when the runner starts).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from emulator.context import EmulatorContext
from emulator.runner.supervisor import Runner

__all__ = ["routes", "run"]


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    return []


async def run(ctx: EmulatorContext) -> None:
    """Run container apps until cancelled; on cancellation every process group is stopped."""
    await Runner(ctx).run()
