"""Scope edits end to end (issue 18, item 2): the MCP server's required scope is checked by
verification, not assumed. From the verified default lab:

* the server is told to require a scope the lab does not grant (``REQUIRED_SCOPE`` set wrong in
  ``server.env``): the reconcile applies it and verification FAILS, naming the check and the
  cause; putting the line back repairs it in one reconcile;
* the scope is renamed to a value with ':' (``mcp:tools``, referenced as
  ``{ref: entra.apps.mcp.scopes.mcp:tools}``): one reconcile, verification passes, the next plan
  is empty.

Plan summary lines and wall times go to ``$PRMLAB_SCENARIO_LOG`` when it is set.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_default_lab import ROOT, prmlab

# Two reconciles (with verification) and a plan in one scenario: the suite's 180 s hang guard
# fired on test_removing_an_apis_policy_prunes_it_and_only_it at load 10 (it ran 180.3 s and
# passed otherwise), as on the fresh-lab test in test_default_lab. A hang guard, not a limit.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

WRONG = "    REQUIRED_SCOPE: files.read.all\n"
ENV_LINE = "    AZURE_CLIENT_ID: {ref: entra.apps.mcp.client_id}\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("edits-scopes")
    shutil.copy(ROOT / "lab.yaml", folder / "lab.yaml")
    shutil.copy(ROOT / "lab.schema.json", folder / "lab.schema.json")
    os.symlink(ROOT / "mcp_server", folder / "mcp_server")
    try:
        first = prmlab(folder, "reconcile", "--yes")
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        assert "NOT verified" not in first.stdout
        yield folder
    finally:
        prmlab(folder, "reconcile", "--destroy", "--yes", "--no-verify")
        prmlab(folder, "local", "stop")


def _edit(folder: Path, old: str, new: str) -> None:
    path = folder / "lab.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def _reconcile(folder: Path, name: str) -> tuple[int, str]:
    started = time.monotonic()
    proc = prmlab(folder, "reconcile", "--yes")
    seconds = time.monotonic() - started
    out = proc.stdout
    assert "Traceback" not in out + proc.stderr, proc.stderr[-3000:]
    plan_line = re.search(r"^Plan: .*$", out, re.M)
    assert plan_line, out[:3000] + proc.stderr[-2000:]
    log = os.environ.get("PRMLAB_SCENARIO_LOG")
    if log:
        with open(log, "a") as sink:
            sink.write(f"{name}\t{plan_line.group(0)}\t{seconds:.1f}s\n")
    return proc.returncode, out


def _converged(folder: Path, name: str) -> str:
    code, out = _reconcile(folder, name)
    assert code == 0, out[-4000:]
    assert re.search(r"^verified: \d+ passed, 0 failed, 0 skipped$", out, re.M), out[-3000:]
    again = prmlab(folder, "reconcile", "--dry-run", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout[-3000:]  # the next plan is empty
    return out


def test_a_server_requiring_another_scope_fails_verification(folder: Path) -> None:
    _edit(folder, ENV_LINE, ENV_LINE + WRONG)
    code, out = _reconcile(folder, "server requires a scope the lab does not grant")
    assert re.search(r"^Apply complete in .*, 0 failed, 0 skipped\.$", out, re.M), out[-3000:]
    assert code != 0, out[-3000:]
    assert re.search(r"^NOT verified: \d+ passed, 2 failed, 0 skipped$", out, re.M), out[-3000:]
    failed = [line.split() for line in out.splitlines() if line.lstrip().startswith("FAIL ")]
    assert [words[1] for words in failed] == ["client.initialize", "idle.burst"], failed
    # idle.burst's calls carry the same token: refused, the burst proves nothing (it used to PASS)
    burst = " ".join(failed[1])
    assert "the warm-up's 12 authorized initialize calls must all succeed, they answered 12×403" in burst
    assert 'error="insufficient_scope"' in burst
    # the cause: the server refuses the lab's token for the scope it was told to require
    line = " ".join(failed[0])
    assert (
        "the MCP endpoint refused the token: 403 insufficient_scope (Required scope: files.read.all)" in line
    )
    assert "the token carries scp 'user_impersonate'" in line

    _edit(folder, WRONG, "")
    _converged(folder, "server's required scope put back")


def test_renaming_the_scope_to_a_value_with_a_colon_converges(folder: Path) -> None:
    def rename(text: str) -> str:
        text = text.replace("        - value: user_impersonate\n", "        - value: mcp:tools\n", 1)
        text = text.replace("          scopes: [user_impersonate]\n", '          scopes: ["mcp:tools"]\n', 1)
        return text.replace("{ref: entra.apps.mcp.scope}", "{ref: entra.apps.mcp.scopes.mcp:tools}")

    path = folder / "lab.yaml"
    before = path.read_text()
    path.write_text(rename(before))
    assert path.read_text() != before
    out = _converged(folder, "rename the scope to mcp:tools")
    assert re.search(r"^  ~ entra_app\.mcp ", out, re.M), out[:3000]
