"""ACR quick builds in the emulated ARM: the source upload, ``scheduleRun`` and run resources.

Where it sits: ``emulator.arm.routes`` calls ``register_all`` after ``generic`` (it adds two
actions to the registry type and registers ``registries/runs``) and mounts ``routes`` (the blob
upload endpoint on the main HTTPS port). The flow mirrors ``az acr build``:

1. ``POST .../registries/{r}/listBuildSourceUploadUrl`` -> ``{uploadUrl, relativePath}``; the
   URL's query carries an unguessable ``sig`` (a SAS's role; only its sha256 is stored);
2. ``PUT <uploadUrl>`` with ``x-ms-blob-type: BlockBlob`` stores the archive (at most
   ``MAX_UPLOAD_BYTES``, once per URL, signature checked) under ``<state_dir>/acr/uploads/``;
3. ``POST .../registries/{r}/scheduleRun`` with a ``DockerBuildRequest`` answers 202 with
   ``Azure-AsyncOperation`` + ``Location`` (the run); the run is stored ``Queued`` and the
   operation's finisher checks the archive: a gzip tar holding ``dockerFilePath`` -> ``Succeeded``
   with ``outputImages``; anything else -> ``Failed`` with ``runErrorMessage`` (Azure's shape);
4. ``GET .../registries/{r}/runs/{runId}`` and the runs list (newest first; ``$filter`` of
   ``and``-joined ``eq`` terms on ``Status`` / ``RunId`` / ``RunType``) tell, through each run's
   ``outputImages``, whether an image tag was built. Nothing is built for real: the runner starts this repo's
   ``mcp_server`` for any ``mcp-server`` image (``emulator.runner.spec``).

Store shapes: runs are ARM GET JSON under the lower-cased run id (parent: the registry);
uploads are ``acr/uploads`` documents keyed by blob name ``{registry, relativePath, sig (sha256),
file, size}``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emulator.arm import acr_access, lro
from emulator.arm.errors import ArmError, json_response
from emulator.arm.types import Call, Doc, TypeSpec, register, spec_for
from emulator.context import EmulatorContext
from emulator.store import Stored

REGISTRIES = "microsoft.containerregistry/registries"
RUNS = "microsoft.containerregistry/registries/runs"
UPLOADS = "acr/uploads"
RUN_ACTION = "acr-run"
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
UPLOAD_PATH = "/_acr/source-uploads"
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_TERM = re.compile(r"^\s*(\w+)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)
_FILTER_FIELDS = {"status", "runid", "runtype"}


def _upload_dir(ctx: EmulatorContext) -> Path:
    return ctx.state_dir / "acr" / "uploads"


async def _list_upload_url(call: Call, stored: Stored) -> Response:
    # The blob name is public (it is logged); the signature rides in the query string, as a
    # SAS does (the request log never writes query strings), and only its digest is stored.
    blob = secrets.token_hex(16)
    sig = secrets.token_urlsafe(24)
    relative = f"source/{time.strftime('%Y%m%d')}/{blob}.tar.gz"
    call.ctx.store.put(
        UPLOADS,
        blob,
        {"registry": stored.key, "relativePath": relative, "sig": _digest(sig), "file": None, "size": 0},
    )
    url = f"{call.ctx.base_url}{UPLOAD_PATH}/{blob}?{urlencode({'sr': 'b', 'sp': 'cw', 'sig': sig})}"
    return json_response(200, {"uploadUrl": url, "relativePath": relative})


def _digest(sig: str) -> str:
    return hashlib.sha256(sig.encode()).hexdigest()


def _bad_request(message: str) -> ArmError:
    return ArmError(400, "InvalidParameter", message)


def _validate_run_request(body: Doc) -> tuple[list[str], str, str]:
    if body.get("type") != "DockerBuildRequest":
        raise _bad_request(
            f"The run request type '{body.get('type')}' is not supported; use DockerBuildRequest."
        )
    images = body.get("imageNames") or []
    if not isinstance(images, list) or not all(isinstance(i, str) and ":" in i for i in images):
        raise _bad_request("imageNames must be a list of 'repository:tag' names.")
    source = body.get("sourceLocation")
    dockerfile = body.get("dockerFilePath")
    if not isinstance(source, str) or not source:
        raise _bad_request("sourceLocation is required.")
    if not isinstance(dockerfile, str) or not dockerfile:
        raise _bad_request("dockerFilePath is required.")
    if str((body.get("platform") or {}).get("os", "")).lower() != "linux":
        raise _bad_request("platform.os must be Linux.")
    return images, source, dockerfile


async def _schedule_run(call: Call, stored: Stored) -> Response:
    ctx = call.ctx
    images, source, dockerfile = _validate_run_request(call.body)
    uploads = [
        d.body
        for d in ctx.store.list(UPLOADS)
        if d.body.get("registry") == stored.key and d.body.get("relativePath") == source
    ]
    if not uploads or not uploads[0].get("file"):
        raise _bad_request(f"The source location '{source}' has no uploaded source.")
    count = len(ctx.store.list(RUNS, parent=stored.key))
    run_id = f"cb{count + 1}"
    run_uri = f"{stored.body['id']}/runs/{run_id}"
    now = lro.iso(time.time())
    run: Doc = {
        "id": run_uri,
        "name": run_id,
        "type": "Microsoft.ContainerRegistry/registries/runs",
        "properties": {
            "runId": run_id,
            "status": "Queued",
            "runType": "QuickRun",
            "createTime": now,
            "lastUpdatedTime": now,
            "platform": {"os": "linux", "architecture": "amd64"},
            "agentConfiguration": {"cpu": 2},
            "isArchiveEnabled": bool(call.body.get("isArchiveEnabled", False)),
            "provisioningState": "Succeeded",
        },
    }
    run_key = run_uri.lower()
    ctx.store.put(RUNS, run_key, run, parent=stored.key)
    op = lro.start(
        ctx,
        RUN_ACTION,
        RUNS,
        run_key,
        0.0,
        images=images,
        file=uploads[0]["file"],
        dockerfile=dockerfile,
        login_server=(stored.body.get("properties") or {}).get("loginServer"),
        push=bool(call.body.get("isPushEnabled", True)),
    )
    headers = lro.lro_headers(ctx, op, call.settings.retry_after_ms)
    headers["Location"] = f"{ctx.base_url}{run_uri}?api-version={call.query.get('api-version', '')}"
    return json_response(202, None, headers)


def _inspect_archive(file: Path, dockerfile: str) -> tuple[str | None, str]:
    """(why the build context cannot build or ``None``, the archive's sha256 digest)."""
    try:
        data = file.read_bytes()
        with tarfile.open(file, mode="r:gz") as tar:
            names = {m.name.removeprefix("./") for m in tar.getmembers() if m.isfile()}
    except (OSError, tarfile.TarError, EOFError) as exc:
        return f"failed to read the build context: {type(exc).__name__}", ""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if dockerfile.removeprefix("./") not in names:
        return (
            "failed during run, err: unable to prepare context: unable to evaluate symlinks in "
            f"Dockerfile path: lstat /workspace/{dockerfile}: no such file or directory"
        ), digest
    return None, digest


async def _finish_run(ctx: EmulatorContext, op: dict[str, Any]) -> None:
    stored = ctx.store.get(RUNS, op["resourceKey"])
    if stored is None:
        return
    data = op["data"]
    file = Path(data["file"])
    error, digest = await anyio.to_thread.run_sync(_inspect_archive, file, str(data["dockerfile"]))
    props = dict(stored.body["properties"])
    now = lro.iso(time.time())
    props.update(startTime=props["createTime"], finishTime=now, lastUpdatedTime=now)
    if error is not None:
        props.update(status="Failed", runErrorMessage=error)
    else:
        props["status"] = "Succeeded"
        if data.get("push"):
            props["outputImages"] = [
                {"registry": data["login_server"], "repository": r, "tag": t, "digest": digest}
                for r, _, t in (str(i).partition(":") for i in data["images"])
            ]
    ctx.store.put(RUNS, stored.key, {**stored.body, "properties": props}, parent=stored.parent)


def _filter_runs(docs: list[Stored], query: Mapping[str, str]) -> list[Stored]:
    """Newest first (as the CLI's ``list-runs`` shows them); ``eq`` terms joined by ``and``."""
    docs = sorted(
        docs, key=lambda d: str((d.body.get("properties") or {}).get("createTime", "")), reverse=True
    )
    text = query.get("$filter")
    if not text:
        return docs
    terms: list[tuple[str, str]] = []
    for part in re.split(r"\s+and\s+", text, flags=re.IGNORECASE):
        m = _TERM.match(part)
        if m is None or m.group(1).lower() not in _FILTER_FIELDS:
            raise ArmError(400, "InvalidFilter", f"The filter '{text}' is not supported.")
        terms.append((m.group(1).lower(), m.group(2)))

    def matches(doc: Stored) -> bool:
        props = doc.body.get("properties") or {}
        fields = {"status": props.get("status"), "runid": props.get("runId"), "runtype": props.get("runType")}
        return all(str(fields[field] or "").lower() == value.lower() for field, value in terms)

    return [d for d in docs if matches(d)]


async def _upload(ctx: EmulatorContext, request: Request) -> Response:
    token = request.path_params["token"]
    doc = ctx.store.get(UPLOADS, token) if _TOKEN.match(token) else None
    if request.method != "PUT" or doc is None:
        return Response("<Error><Code>ResourceNotFound</Code></Error>", 404, media_type="application/xml")
    sig = request.query_params.get("sig", "")
    if not hmac.compare_digest(_digest(sig), str(doc.body.get("sig", ""))):
        return Response("<Error><Code>AuthenticationFailed</Code></Error>", 403, media_type="application/xml")
    if doc.body.get("file"):  # one upload per URL
        return Response("<Error><Code>BlobAlreadyExists</Code></Error>", 409, media_type="application/xml")
    if request.headers.get("x-ms-blob-type") != "BlockBlob":
        return Response(
            "<Error><Code>MissingRequiredHeader</Code><HeaderName>x-ms-blob-type</HeaderName></Error>",
            400,
            media_type="application/xml",
        )
    folder = _upload_dir(ctx)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{token}.tar.gz"
    size = 0
    with target.open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                out.close()
                target.unlink(missing_ok=True)
                return Response(
                    "<Error><Code>RequestBodyTooLarge</Code></Error>", 413, media_type="application/xml"
                )
            out.write(chunk)
    ctx.store.put(UPLOADS, token, {**doc.body, "file": str(target), "size": size})
    return Response(status_code=201, headers={"x-ms-request-server-encrypted": "true"})


def routes(ctx: EmulatorContext) -> list[BaseRoute]:
    async def endpoint(request: Request) -> Response:
        return await _upload(ctx, request)

    return [Route(UPLOAD_PATH + "/{token}", endpoint, methods=["PUT", "GET"])]


def register_all() -> None:
    registry = spec_for(REGISTRIES)
    assert registry is not None, "emulator.arm.generic registers registries first"
    actions = {
        **registry.actions,
        "listBuildSourceUploadUrl": _list_upload_url,
        "scheduleRun": _schedule_run,
        "listCredentials": acr_access.list_credentials,  # the admin user (emulator.arm.acr_access)
    }
    register(dataclasses.replace(registry, actions=actions))
    register(TypeSpec(RUNS, "Microsoft.ContainerRegistry/registries/runs", list_filter=_filter_runs))
    lro.register(RUN_ACTION, _finish_run)
