"""An interrupted destroy converges (issue 17.3).

``prmlab reconcile --destroy`` deletes the APIM service (APIM soft-deletes it) and then purges
it. The run is interrupted exactly between the two — the emulator holds the purge call
(``hold`` fault) and the test kills the ``prmlab`` process (SIGKILL, or SIGINT as Ctrl-C) once
the call is held, then lets the held call fail unprocessed. The service is left soft-deleted,
without tags. The next run must know it as the lab's (``orchestrator.pending``) and finish:
``--destroy`` purges it, a plain reconcile purges and creates it again. The real CLI, its own
emulator (``prmlab local``), no sleeps: the kill point is the held call, observed through the
emulator's admin API.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.orchestrator.emulator_lab import lab_text, write_lab
from tests.support.credentials import operator_token
from tests.support.signals import sigint_default

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
API = "api-version=2024-05-01"


def prmlab(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
        preexec_fn=sigint_default,  # Ctrl-C reaches it however the suite was started
    )


class Emulator:
    """The lab folder's own emulator (started by ``prmlab``), through its admin and ARM APIs."""

    def __init__(self, folder: Path) -> None:
        info = json.loads((folder / ".prmlab" / "emulator.json").read_text())
        self.base = str(info["base_url"])
        self.sub = str(info["subscription_id"])
        self.trust = ssl.create_default_context(cafile=info["ca_file"])
        self.token = operator_token(self.base, str(info["tenant_id"]), Path(info["ca_file"]))

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, verify=self.trust, timeout=10)

    def faults(self, **settings: Any) -> dict[str, Any]:
        with self.client() as http:
            resp = http.put("/_emulator/faults", json=settings)
            resp.raise_for_status()
            result: dict[str, Any] = resp.json()
            return result

    def arm(self, path: str) -> httpx.Response:
        with self.client() as http:
            return http.get(f"{path}?{API}", headers={"Authorization": f"Bearer {self.token}"})

    def deleted(self, name: str) -> httpx.Response:
        return self.arm(
            f"/subscriptions/{self.sub}/providers/Microsoft.ApiManagement/locations/ukwest/deletedservices/{name}"
        )

    def service(self, lab: str) -> httpx.Response:
        return self.arm(
            f"/subscriptions/{self.sub}/resourceGroups/rg-{lab}/providers/Microsoft.ApiManagement/service/apim-{lab}"
        )


@pytest.fixture
def lab_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "lab"
    yield folder
    prmlab(folder, "local", "stop")


def _interrupt_between_delete_and_purge(folder: Path, sig: signal.Signals) -> Emulator:
    emu = Emulator(folder)
    emu.faults(hold={"method": "DELETE", "path": "/deletedservices/"})
    run = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "reconcile", "--destroy", "--yes"],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1"},
        preexec_fn=sigint_default,  # Ctrl-C reaches it however the suite was started
    )

    async def purge_is_held() -> None:
        with anyio.fail_after(120):
            while emu.faults()["held"] < 1:  # another process's state: polled
                if run.poll() is not None:
                    raise AssertionError(f"prmlab ended before the purge: {run.communicate()[0]!r}")
                await anyio.sleep(0.05)

    try:
        anyio.run(purge_is_held)
        run.send_signal(sig)
        run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate(timeout=60)
        emu.faults(hold=None)  # the held purge is answered 503, never processed
    return emu


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_the_next_destroy_purges_what_an_interrupted_one_left_soft_deleted(
    lab_folder: Path, sig: signal.Signals
) -> None:
    name = f"cut-destroy-{sig.name.lower()}"
    write_lab(lab_folder, lab_text(name, extra_api=False))
    first = prmlab(lab_folder, "reconcile", "--yes", "--no-verify")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    emu = _interrupt_between_delete_and_purge(lab_folder, sig)
    assert emu.service(name).status_code == 404
    assert emu.deleted(f"apim-{name}").status_code == 200  # soft-deleted, no tags left

    plan = prmlab(lab_folder, "reconcile", "--destroy", "--dry-run")
    assert f"- apim_service.main  (apim_service 'apim-{name}')" in plan.stdout, plan.stdout
    assert "only its purge is left" in plan.stdout
    again = prmlab(lab_folder, "reconcile", "--destroy", "--yes")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert emu.deleted(f"apim-{name}").status_code == 404  # purged: the name is free
    assert not (lab_folder / ".prmlab" / "pending-deletes.json").exists()
    done = prmlab(lab_folder, "reconcile", "--destroy", "--yes", "--detailed-exitcode")
    assert done.returncode == 0, done.stdout  # nothing left, nothing to do


def test_the_next_reconcile_recreates_what_an_interrupted_destroy_left_soft_deleted(lab_folder: Path) -> None:
    name = "cut-reconcile"
    write_lab(lab_folder, lab_text(name, extra_api=False))
    assert prmlab(lab_folder, "reconcile", "--yes", "--no-verify").returncode == 0
    emu = _interrupt_between_delete_and_purge(lab_folder, signal.SIGKILL)
    assert emu.deleted(f"apim-{name}").status_code == 200
    plan = prmlab(lab_folder, "reconcile", "--dry-run")
    assert f"-/+ apim_service.main  (apim_service 'apim-{name}')" in plan.stdout, plan.stdout
    again = prmlab(lab_folder, "reconcile", "--yes", "--no-verify")
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert emu.service(name).status_code == 200
    assert emu.deleted(f"apim-{name}").status_code == 404
    settled = prmlab(lab_folder, "reconcile", "--yes", "--no-verify", "--detailed-exitcode")
    assert settled.returncode == 0, settled.stdout


def test_a_soft_deleted_name_the_lab_has_no_record_of_is_explained_not_purged(lab_folder: Path) -> None:
    name = "cut-unknown"
    write_lab(lab_folder, lab_text(name, extra_api=False))
    assert prmlab(lab_folder, "reconcile", "--yes", "--no-verify").returncode == 0
    emu = _interrupt_between_delete_and_purge(lab_folder, signal.SIGKILL)
    (lab_folder / ".prmlab" / "pending-deletes.json").unlink()  # e.g. another checkout of the lab
    again = prmlab(lab_folder, "reconcile", "--yes", "--no-verify")
    assert again.returncode == 1
    out = again.stdout + again.stderr
    assert f"a soft-deleted API Management service named 'apim-{name}'" in out
    assert "this lab has no record of deleting it, so prmlab does not purge it" in out
    assert f"az apim deletedservice purge --service-name apim-{name} --location ukwest" in out
    assert emu.deleted(f"apim-{name}").status_code == 200  # left alone
