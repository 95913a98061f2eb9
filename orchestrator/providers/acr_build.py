"""ACR build of the MCP server's image from ``server.source`` (the azure target's ``az acr build``,
done through the ARM API so the local emulator and Azure take the same calls).

Where it sits: ``containers.ContainerAppProvider`` asks ``source_image`` for the image reference
while building the desired container app (pure apart from reading the source folder), and calls
``ensure_image`` right before it writes the app. Flow of ``ensure_image``:

1. the succeeded runs (``$filter=Status eq 'Succeeded'``): one whose ``outputImages`` holds
   ``mcp-server:<tag>`` means the image exists -> nothing to do;
2. ``POST .../registries/{name}/listBuildSourceUploadUrl`` -> ``uploadUrl`` + ``relativePath``;
3. ``PUT <uploadUrl>`` with the tar.gz (``x-ms-blob-type: BlockBlob``; a SAS URL, so no ARM token);
4. ``POST .../registries/{name}/scheduleRun`` (a ``DockerBuildRequest``) as a long-running
   operation, then ``GET .../runs/{runId}`` until the run is terminal; anything but
   ``Succeeded`` is a ``PermanentError`` naming the container app and the run's error.

The tag is the first 12 hex digits of the archive's sha256, and the archive is deterministic
(sorted entries, fixed mtimes/owners, no ``__pycache__``/``.venv``), so an unchanged source
gives an unchanged image reference and a no-op reconcile writes nothing.

SDK choice: ``azure-mgmt-containerregistry`` 15.0.0 (the current PyPI release) no longer has
the tasks/runs operations (``schedule_run``, ``get_build_source_upload_url``), so the ARM calls
go through ``azure-mgmt-resource``'s pipeline (``ResourceManagementClient._client``: the same
credential, retry and TLS policies as every other ARM call) with azure-core's ``AsyncARMPolling``
for the long-running ``scheduleRun``, exactly as generated SDK code does.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from orchestrator.errors import PermanentError, TemporaryError
from orchestrator.providers.errors import translating

if TYPE_CHECKING:
    from orchestrator.target import Clients

TASKS_API = "2019-06-01-preview"  # Microsoft.ContainerRegistry tasks/runs API (scheduleRun, runs)
REPOSITORY = "mcp-server"
EXCLUDED = frozenset({"__pycache__", ".venv", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache"})
TERMINAL = frozenset({"succeeded", "failed", "canceled", "error", "timeout"})
SUCCEEDED = "Status eq 'Succeeded'"
MAX_RUN_PAGES = 10
RUN_TIMEOUT_SECONDS = 1800.0  # ACR's default run timeout is 3600 s; a server build takes minutes


@dataclass(frozen=True, slots=True)
class SourceArchive:
    data: bytes
    sha256: str

    @property
    def tag(self) -> str:
        return f"{REPOSITORY}:{self.sha256[:12]}"


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.iterdir(), key=lambda p: p.name):
        if path.name in EXCLUDED or path.suffix in (".pyc", ".pyo"):
            continue
        if path.is_symlink():
            continue  # never follow links out of the source folder
        if path.is_dir():
            yield path
            yield from _files(path)
        elif path.is_file():
            yield path


def pack_source(root: Path) -> SourceArchive:
    """The folder as a deterministic tar.gz (same content -> same bytes -> same digest)."""
    raw = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        for path in _files(root):
            info = tarfile.TarInfo(path.relative_to(root).as_posix())
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if path.is_dir():
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                data = path.read_bytes()
                info.size = len(data)
                info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
                tar.addfile(info, io.BytesIO(data))
    data = raw.getvalue()
    return SourceArchive(data, hashlib.sha256(data).hexdigest())


def build_request(tag: str, relative_path: str, dockerfile: str = "Dockerfile") -> dict[str, Any]:
    """The ``DockerBuildRequest`` body of ``scheduleRun`` (REST shape, api 2019-06-01-preview)."""
    return {
        "type": "DockerBuildRequest",
        "imageNames": [tag],
        "sourceLocation": relative_path,
        "dockerFilePath": dockerfile,
        "platform": {"os": "Linux"},
        "isPushEnabled": True,
        "noCache": False,
        "isArchiveEnabled": False,
    }


# ----------------------------------------------------------------------------------- I/O


async def _arm(resources: Any, method: str, path: str, body: Any = None, **params: str) -> Any:
    """One ARM call through the resource client's pipeline; returns the PipelineResponse."""
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.exceptions import ARMErrorFormat

    client = resources._client  # the SDK's AsyncARMPipelineClient (auth, retries, TLS)
    endpoint = str(resources._config.base_url).rstrip("/")  # as the generated operations format it
    url = client.format_url(path, endpoint=endpoint)
    request = HttpRequest(method, url, params={"api-version": TASKS_API, **params}, json=body)
    response = await client._pipeline.run(request, stream=False)
    if response.http_response.status_code not in (200, 201, 202):
        raise HttpResponseError(response=response.http_response, error_format=ARMErrorFormat)
    return response


async def _succeeded_run_exists(resources: Any, registry_id: str, tag: str) -> bool:
    """Whether a succeeded run pushed ``tag`` (``properties.outputImages``: repository + tag).

    The runs ``$filter`` cannot match a tag (``OutputImageManifests`` holds ``repo@digest``),
    so the succeeded runs are listed (newest first, at most ``MAX_RUN_PAGES`` pages) and their
    output images compared here; an image older than that is simply built again.
    """
    repository, _, wanted = tag.partition(":")
    response = await _arm(resources, "GET", f"{registry_id}/runs", **{"$filter": SUCCEEDED, "$top": "100"})
    for _ in range(MAX_RUN_PAGES):
        page = response.http_response.json() or {}
        for run in page.get("value") or []:
            for image in (run.get("properties") or {}).get("outputImages") or []:
                if image.get("repository") == repository and image.get("tag") == wanted:
                    return True
        next_link = page.get("nextLink")
        if not next_link:
            return False
        response = await _next(resources, str(next_link))
    return False


async def _next(resources: Any, url: str) -> Any:
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest
    from azure.mgmt.core.exceptions import ARMErrorFormat

    response = await resources._client._pipeline.run(HttpRequest("GET", url), stream=False)
    if response.http_response.status_code != 200:
        raise HttpResponseError(response=response.http_response, error_format=ARMErrorFormat)
    return response


async def _upload(address: str, url: str, data: bytes, ca_file: Path | None) -> None:
    import ssl

    import httpx

    verify: Any = ssl.create_default_context(cafile=str(ca_file)) if ca_file is not None else True
    async with httpx.AsyncClient(verify=verify, timeout=120.0) as http:
        response = await http.put(
            url,
            content=data,
            headers={"x-ms-blob-type": "BlockBlob", "content-type": "application/octet-stream"},
        )
    if response.status_code >= 500 or response.status_code == 429:
        raise TemporaryError(address, f"the source upload failed ({response.status_code})")
    if response.status_code not in (200, 201):
        raise PermanentError(address, f"the source upload was refused ({response.status_code})")


async def _schedule(resources: Any, registry_id: str, request: dict[str, Any], interval: float) -> Any:
    from azure.core.polling import AsyncLROPoller
    from azure.mgmt.core.polling.async_arm_polling import AsyncARMPolling

    initial = await _arm(resources, "POST", f"{registry_id}/scheduleRun", request)
    poller: AsyncLROPoller[Any] = AsyncLROPoller(
        resources._client,
        initial,
        lambda pipeline_response: pipeline_response.http_response.json(),
        AsyncARMPolling(interval),
    )
    return await poller.result()


async def _wait_for_run(resources: Any, run: dict[str, Any], interval: float) -> dict[str, Any]:
    run_id = str(run.get("id") or "")
    with anyio.fail_after(RUN_TIMEOUT_SECONDS):
        while str((run.get("properties") or {}).get("status", "")).lower() not in TERMINAL:
            await anyio.sleep(max(interval, 0.05))
            response = await _arm(resources, "GET", run_id)
            run = response.http_response.json()
    return run


async def ensure_image(
    address: str, clients: Clients, registry_id: str, source: Path, archive: SourceArchive
) -> None:
    """Build and push ``archive`` as ``archive.tag`` in the registry unless it is there already."""
    resources = clients.resources
    settings = clients.settings
    interval = float(settings.effective_polling_interval())
    with translating(address):
        if await _succeeded_run_exists(resources, registry_id, archive.tag):
            return
        upload = (
            await _arm(resources, "POST", f"{registry_id}/listBuildSourceUploadUrl")
        ).http_response.json()
        await _upload(address, str(upload["uploadUrl"]), archive.data, settings.ca_file)
        run = await _schedule(
            resources, registry_id, build_request(archive.tag, str(upload["relativePath"])), interval
        )
        run = await _wait_for_run(resources, run, interval)
    props = run.get("properties") or {}
    status = str(props.get("status", ""))
    if status.lower() != "succeeded":
        detail = props.get("runErrorMessage") or "no error message"
        raise PermanentError(
            address,
            f"the ACR build of {archive.tag} from {source} ended {status} (run {props.get('runId')}): {detail}",
        )
