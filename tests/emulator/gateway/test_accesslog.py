"""The gateways' access log (``accesslog``): one JSON line per request, written at once, the path
redacted, strings escaped as JSON (the line is formatted by hand since issue 20)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from emulator.gateway.accesslog import MATCH_KEY, AccessLog, AccessLogMiddleware

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_a_line_is_json_and_on_disk_before_close(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "gateway.jsonl")
    log.write(
        ts=1764337000.1234, service='svc "x"\\', method="GET", path="/caf\u00e9/\u2028",
        status=None, duration_ms=2.46, api=None, operation="op\n",
    )  # fmt: skip
    text = (tmp_path / "gateway.jsonl").read_text(encoding="ascii")  # before close: nothing buffered
    assert text.endswith("\n")
    assert text.count("\n") == 1
    assert json.loads(text) == {
        "ts": 1764337000.123, "service": 'svc "x"\\', "method": "GET", "path": "/caf\u00e9/\u2028",
        "status": None, "duration_ms": 2.5, "api": None, "operation": "op\n",
    }  # fmt: skip
    assert stat.S_IMODE((tmp_path / "gateway.jsonl").stat().st_mode) == 0o600
    log.close()


async def test_the_middleware_writes_the_route_status_and_a_redacted_path(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "gateway.jsonl")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope[MATCH_KEY]["api"], scope[MATCH_KEY]["operation"] = "mcp", "post"
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    middleware = AccessLogMiddleware(app, log, "apim-lab")
    secret = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"
    for path in ("/mcp", f"/cb/{secret}", f"/cb/{secret}"):  # the second one from the cache
        await middleware({"type": "http", "method": "POST", "path": path}, receive, send)
    log.close()
    records = [json.loads(line) for line in (tmp_path / "gateway.jsonl").read_text().splitlines()]
    assert [(r["service"], r["method"], r["status"], r["api"], r["operation"]) for r in records] == [
        ("apim-lab", "POST", 401, "mcp", "post")
    ] * 3
    assert records[0]["path"] == "/mcp"
    assert all(secret not in r["path"] and "REDACTED" in r["path"] for r in records[1:])
    assert len(sent) == 6  # every message reached the server
