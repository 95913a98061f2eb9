"""A refusal mid-reconcile leaves a state that the next reconcile repairs (issue 14, "Bad input").

The default lab, verified, through the ``prmlab`` command, the real SDKs and the emulator. Then
someone else's API takes a path out of band, and the lab adds an API on that path (plus a named
value): ``prmlab validate`` cannot know the path is taken, the plan is fine, and APIM refuses the
API's create as Azure does (400 ``ValidationError`` on ``path``, its words:
``emulator.arm.apim._check_unique_path``). The reconcile reports the refusal against the
resource with Azure's code and message, applies what does not depend on it (the named value),
skips what does (the API's operation), and exits non-zero without a traceback. With the lab
corrected (another path) the next reconcile creates the rest, verification passes, the plan after
it is empty, and someone else's API is untouched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.e2e.test_default_lab import ROOT, prmlab
from tests.support.credentials import operator_credential

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

TAKEN = "shared-tools"
OTHERS = "someone-elses"
TOOLS_API = f"""    tools:
      display_name: Tools
      type: http
      path: {TAKEN}
      protocols: [https]
      subscription_required: false
      operations:
        ping:
          method: GET
          url_template: /ping
          display_name: Ping
"""
NAMED_VALUE = """    ExtraSetting:
      value: extra
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("repair")
    shutil.copy(ROOT / "lab.yaml", folder / "lab.yaml")
    shutil.copy(ROOT / "lab.schema.json", folder / "lab.schema.json")
    os.symlink(ROOT / "mcp_server", folder / "mcp_server")
    try:
        yield folder
    finally:
        prmlab(folder, "reconcile", "--destroy", "--yes", "--no-verify")
        prmlab(folder, "local", "stop")


async def _others_api(folder: Path, create: bool) -> tuple[str, str, str | None]:
    """Someone else's API on ``TAKEN`` (no ownership mark), created or read back via the SDK."""
    from azure.mgmt.apimanagement.aio import ApiManagementClient

    info = json.loads((folder / ".prmlab" / "emulator.json").read_text())
    async with ApiManagementClient(
        operator_credential(info["base_url"], info["tenant_id"], Path(info["ca_file"])),
        info["subscription_id"],
        base_url=info["base_url"],
        connection_verify=info["ca_file"],
    ) as apim:
        services = [s async for s in apim.api_management_service.list()]
        service = services[0]
        group = service.id.split("/")[4]
        if create:
            poller = await apim.api.begin_create_or_update(
                group,
                service.name,
                OTHERS,
                {"display_name": "Not the lab's", "path": TAKEN, "protocols": ["https"]},
            )
            await poller.result()
        api = await apim.api.get(group, service.name, OTHERS)
        return api.display_name, api.path, api.description


async def _lab_api_exists(folder: Path, name: str) -> bool:
    from azure.core.exceptions import ResourceNotFoundError
    from azure.mgmt.apimanagement.aio import ApiManagementClient

    info = json.loads((folder / ".prmlab" / "emulator.json").read_text())
    async with ApiManagementClient(
        operator_credential(info["base_url"], info["tenant_id"], Path(info["ca_file"])),
        info["subscription_id"],
        base_url=info["base_url"],
        connection_verify=info["ca_file"],
    ) as apim:
        services = [s async for s in apim.api_management_service.list()]
        service = services[0]
        try:
            await apim.api.get(service.id.split("/")[4], service.name, name)
        except ResourceNotFoundError:
            return False
        return True


def _edit(folder: Path, old: str, new: str) -> None:
    path = folder / "lab.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_refused_create_is_reported_and_the_corrected_lab_converges(folder: Path) -> None:
    first = prmlab(folder, "reconcile", "--yes", "--no-verify")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    others: Any = anyio.run(_others_api, folder, True)

    _edit(folder, "  apis:\n", "  apis:\n" + TOOLS_API)
    _edit(folder, "  named_values:\n", "  named_values:\n" + NAMED_VALUE)
    assert prmlab(folder, "validate").returncode == 0  # the validator cannot know the path is taken

    refused = prmlab(folder, "reconcile", "--yes")
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out[-4000:]
    assert "Traceback" not in out
    # against the resource, with Azure's code and message
    refusal = (
        "api.tools: HTTP 400 ValidationError: One or more fields contain incorrect values: path: Cannot "
        f"create API 'tools' with the same Path '{TAKEN}' as API '{OTHERS}'  unless it's a part of the "
        "same version set"
    )
    assert f"! {refusal}" in out, out[-4000:]
    assert "- operation.tools.ping: because api.tools failed" in out, out[-4000:]
    assert re.search(
        r"^Apply finished with failures in .*: 1 created, .*, 1 failed, 1 skipped\.$", out, re.M
    ), out
    assert not anyio.run(_lab_api_exists, folder, "tools")
    # what does not depend on the refused API was applied: only the API and its subtree remain
    pending = prmlab(folder, "reconcile", "--dry-run")
    assert pending.returncode == 0, pending.stdout[-3000:]
    assert "+ api.tools " in pending.stdout
    assert "+ operation.tools.ping " in pending.stdout
    assert "ExtraSetting" not in pending.stdout, pending.stdout[-3000:]

    _edit(folder, f"      path: {TAKEN}\n", "      path: tools\n")
    repaired = prmlab(folder, "reconcile", "--yes")
    out = repaired.stdout
    assert repaired.returncode == 0, out[-4000:] + repaired.stderr[-3000:]
    assert re.search(r"^Apply complete in .*, 0 failed, 0 skipped\.$", out, re.M), out[-3000:]
    assert re.search(r"^verified: \d+ passed, 0 failed, 0 skipped$", out, re.M), out[-3000:]
    assert anyio.run(_lab_api_exists, folder, "tools")
    again = prmlab(folder, "reconcile", "--dry-run", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout[-3000:]  # 0: nothing left to do
    assert anyio.run(_others_api, folder, False) == others  # someone else's API untouched
