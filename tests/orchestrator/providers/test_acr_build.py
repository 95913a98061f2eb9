"""The server's image built by an ACR quick build (``orchestrator.providers.acr_build``) through
the ARM API against the emulator: built once, a no-op reconcile builds nothing and writes
nothing, a source change builds a new tag and moves the container app to it, a missing Dockerfile
fails naming the resource; plus the archive's determinism and the emulator's refusals."""

from __future__ import annotations

import io
import shutil
import tarfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from azure.core.exceptions import HttpResponseError

from emulator.arm.acr import MAX_UPLOAD_BYTES
from orchestrator.errors import PermanentError
from orchestrator.providers import providers_for
from orchestrator.providers.acr_build import (
    _arm,
    _schedule,
    _succeeded_run_exists,
    _wait_for_run,
    build_request,
    ensure_image,
    pack_source,
)
from tests.orchestrator.providers.support import (
    ROOT,
    Converger,
    local_clients,
    target_outputs,
    unique_lab,
    writes,
)
from tests.support.emulator import RunningEmulator

KINDS = (
    "resource_group",
    "managed_identity",
    "container_registry",
    "role_assignment",
    "container_environment",
    "container_app",
)
FAKE = {
    "entra.apps.mcp.client_id": "22222222-2222-2222-2222-222222222222",
    "entra.apps.mcp.identifier_uri": "api://22222222-2222-2222-2222-222222222222",
}


def _source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    shutil.copytree(ROOT / "mcp_server", folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def _lab(source: Path) -> Any:
    lab = unique_lab()
    assert lab.server is not None
    object.__setattr__(lab, "server", lab.server.model_copy(update={"source": str(source)}))
    return lab


def _builds(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if str(e.get("path", "")).endswith("/scheduleRun")]


def _app_image(actual: Any) -> str:
    return str(actual.properties["properties.template.containers"][0]["image"])


# ------------------------------------------------------------------------------ pure


def test_archive_is_deterministic_and_skips_caches(tmp_path: Path) -> None:
    src = _source(tmp_path)
    first = pack_source(src)
    (src / "__pycache__").mkdir()
    (src / "__pycache__" / "x.pyc").write_bytes(b"junk")
    (src / ".venv").mkdir()
    (src / ".venv" / "big").write_bytes(b"x" * 100)
    for path in src.rglob("*"):
        path.touch()  # new mtimes change nothing
    again = pack_source(src)
    assert again.data == first.data
    assert again.tag == first.tag
    assert first.tag.startswith("mcp-server:")
    assert len(first.tag.split(":")[1]) == 12
    with tarfile.open(fileobj=io.BytesIO(first.data), mode="r:gz") as tar:
        names = tar.getnames()
    assert "Dockerfile" in names
    assert not any("__pycache__" in n or ".venv" in n for n in names)
    (src / "tool.py").write_text((src / "tool.py").read_text() + "\n# changed\n")
    assert pack_source(src).tag != first.tag


# -------------------------------------------------------------------- against the emulator


@pytest.mark.anyio
async def test_build_once_noop_then_rebuild_on_change(emulator: RunningEmulator, tmp_path: Path) -> None:
    src = _source(tmp_path)
    lab = _lab(src)
    with anyio.fail_after(90):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            before = len(emulator.requests())
            started = time.perf_counter()
            created = await conv.converge(KINDS)
            elapsed = time.perf_counter() - started
            app = created["container_app.server"]
            tag = pack_source(src).tag
            assert _app_image(app) == f"{lab.server.registry.name.lower()}.azurecr.io/{tag}"
            log = emulator.requests()[before:]
            assert len(_builds(log)) == 1, elapsed
            assert any(e["method"] == "PUT" and "/_acr/source-uploads/" in e["path"] for e in log)

            # A no-op reconcile: nothing differs, nothing is written, nothing is built.
            mark = len(emulator.requests())
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            await conv.converge(KINDS)
            log = emulator.requests()[mark:]
            assert writes(log) == []
            assert _builds(log) == []

            # The tag's succeeded run is found: an app rewrite for another reason builds nothing.
            node = conv.graph["container_app.server"]
            desired = conv.desired(node)
            mark = len(emulator.requests())
            await providers["container_app"].update(desired, app)
            assert _builds(emulator.requests()[mark:]) == []

            # A source change: a new tag is built and the app moves to it.
            (src / "tool.py").write_text((src / "tool.py").read_text() + "\n# changed\n")
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            mark = len(emulator.requests())
            changed = await conv.converge(KINDS)
            new_tag = pack_source(src).tag
            assert new_tag != tag
            assert _app_image(changed["container_app.server"]).endswith("/" + new_tag)
            assert len(_builds(emulator.requests()[mark:])) == 1
            await providers["container_app"].delete(changed["container_app.server"])


@pytest.mark.anyio
async def test_missing_dockerfile_fails_naming_the_resource(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    src = _source(tmp_path)
    (src / "Dockerfile").unlink()
    lab = _lab(src)
    with anyio.fail_after(60):
        async with local_clients(emulator, lab) as clients:
            providers = providers_for(clients, lab)
            conv = Converger(lab, providers, target_outputs(emulator), FAKE)
            await conv.converge(KINDS[:-1])
            with pytest.raises(PermanentError) as info:
                await conv.converge(("container_app",))
    text = str(info.value)
    assert "container_app.server" in text
    assert "Failed" in text
    assert "Dockerfile" in text
    # The app was not written with an image that does not exist.
    node = conv.graph["container_app.server"]
    async with local_clients(emulator, lab) as clients:
        found = await providers_for(clients, lab)["container_app"].read(lab.name, {node.address: None})
    assert found == {}


@pytest.mark.anyio
async def test_upload_endpoint_refusals(emulator: RunningEmulator, tmp_path: Path) -> None:
    lab = unique_lab()
    base = f"{emulator.base_url}/_acr/source-uploads"
    async with local_clients(emulator, lab) as clients:
        providers = providers_for(clients, lab)
        conv = Converger(lab, providers, target_outputs(emulator), FAKE)
        await conv.converge(("resource_group", "container_registry"))
        registry_id = conv.desired(conv.graph["container_registry.main"]).properties["@id"]
        response = await _arm(clients.resources, "POST", f"{registry_id}/listBuildSourceUploadUrl")
        upload = response.http_response.json()
    url = httpx.URL(upload["uploadUrl"])
    blob = {"x-ms-blob-type": "BlockBlob"}
    async with httpx.AsyncClient(verify=emulator.ssl_context()) as http:
        assert (
            await http.put(url.copy_set_param("sig", "forged"), content=b"x", headers=blob)
        ).status_code == 403
        assert (await http.put(url.copy_remove_param("sig"), content=b"x", headers=blob)).status_code == 403
        assert (await http.put(url, content=b"x")).status_code == 400  # no x-ms-blob-type
        too_big = b"\0" * (MAX_UPLOAD_BYTES + 1)
        assert (await http.put(url, content=too_big, headers=blob)).status_code == 413
        assert (await http.put(url, content=b"not a tarball", headers=blob)).status_code == 201
        assert (await http.put(url, content=b"again", headers=blob)).status_code == 409
        # A source that is not a tar.gz: the run fails in Azure's shape.
        async with local_clients(emulator, lab) as clients:
            run = await _schedule(
                clients.resources, registry_id, build_request("mcp-server:x", upload["relativePath"]), 0.05
            )
            run = await _wait_for_run(clients.resources, run, 0.05)
            assert run["properties"]["status"] == "Failed"
            assert "build context" in run["properties"]["runErrorMessage"]
            with pytest.raises(HttpResponseError, match="InvalidParameter"):
                await _schedule(
                    clients.resources, registry_id, build_request("mcp-server:x", "source/none"), 0.05
                )
        unknown = await http.put(f"{base}/{'a' * 32}", content=b"x", headers={"x-ms-blob-type": "BlockBlob"})
        assert unknown.status_code == 404
        bad = await http.put(f"{base}/../../etc", content=b"x", headers={"x-ms-blob-type": "BlockBlob"})
        assert bad.status_code == 404


@pytest.mark.anyio
async def test_built_tags_are_found_across_pages(emulator: RunningEmulator, tmp_path: Path) -> None:
    lab = unique_lab()
    async with local_clients(emulator, lab) as clients:
        providers = providers_for(clients, lab)
        conv = Converger(lab, providers, target_outputs(emulator), FAKE)
        await conv.converge(("resource_group", "container_registry"))
        registry_id = conv.desired(conv.graph["container_registry.main"]).properties["@id"]
        tags = []
        for i in range(4):  # the test emulator's page size is 3: the first tag is on page 2
            src = tmp_path / f"s{i}"
            src.mkdir()
            (src / "Dockerfile").write_text(f"FROM scratch\nLABEL n={i}\n")
            archive = pack_source(src)
            await ensure_image("container_app.server", clients, registry_id, src, archive)
            tags.append(archive.tag)
        for tag in tags:
            assert await _succeeded_run_exists(clients.resources, registry_id, tag)
        assert not await _succeeded_run_exists(clients.resources, registry_id, "mcp-server:000000000000")
        with pytest.raises(HttpResponseError, match="InvalidFilter"):
            await _arm(clients.resources, "GET", f"{registry_id}/runs", **{"$filter": "Tag eq 'x'"})
