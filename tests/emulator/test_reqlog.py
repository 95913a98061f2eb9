"""The request log's classification of paths (pure) and what it never records."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.types import Message, Receive, Scope, Send

from emulator.reqlog import REQUEST_LOG, RequestLog, RequestLogMiddleware, api_of, read_log, resource_of
from tests.support.emulator import RunningEmulator


@pytest.mark.parametrize(
    ("path", "api", "resource"),
    [
        (
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a/apis/x",
            "arm",
            "microsoft.apimanagement/service/apis",
        ),
        ("/subscriptions/s/resourcegroups/rg", "arm", "resourcegroups"),
        (
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/c/providers/Microsoft.Authorization/roleAssignments/g",
            "arm",
            "microsoft.authorization/roleassignments",
        ),
        ("/v1.0/applications(uniqueName='x')/federatedIdentityCredentials", "graph", "applications"),
        ("/v1.0/me", "graph", "me"),
        ("/login/t/oauth2/v2.0/token", "identity", "login"),
        ("/_emulator/health", "admin", "_emulator"),
    ],
)
def test_classification(path: str, api: str, resource: str) -> None:
    assert (api_of(path), resource_of(path)) == (api, resource)


def test_log_lines_carry_no_query_or_body(emulator: RunningEmulator) -> None:
    auth = emulator.graph_headers()
    with emulator.sync_http() as h:
        h.post("/v1.0/applications?code=secret-code", json={"displayName": "hidden-body"}, headers=auth)
    text = (emulator.state_dir / "requests.jsonl").read_text()
    token = auth["Authorization"].removeprefix("Bearer ")
    for secret in ("secret-code", "hidden-body", token, token[-20:]):
        assert secret not in text
    # The last POST of applications, not the last line: the session emulator is shared (issue 17 item 5).
    last = [r for r in emulator.requests() if (r["method"], r["path"]) == ("POST", "/v1.0/applications")][-1]
    assert set(last) == {"ts", "method", "path", "api", "resource", "status", "duration_ms"}
    assert last["status"] == 201


def test_a_credential_in_the_path_is_redacted(emulator: RunningEmulator) -> None:
    """A path is written, and a path can carry a token (issue 17 item 8)."""
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwYXRoLXRva2VuIn0.c2lnbmF0dXJl"
    marker = f"/v1.0/users/{jwt}"
    with emulator.sync_http() as h:
        h.get(marker)
    text = (emulator.state_dir / "requests.jsonl").read_text()
    assert jwt not in text
    assert any(r["path"] == "/v1.0/users/[REDACTED]" for r in emulator.requests())


@pytest.mark.parametrize(
    ("method", "status", "headers", "body"),
    [
        ("HEAD", 404, [(b"content-length", b"0")], b""),  # check_existence: Azure's HEAD answers
        ("HEAD", 200, [(b"content-length", b"42")], b""),  # the length of the GET, no content
        ("DELETE", 204, [], b""),
        ("POST", 202, [(b"Content-Length", b"0")], b""),
        ("GET", 200, [(b"content-length", b"2")], b"{}"),
        ("GET", 200, [], b"{}"),  # chunked: the answer ends with the last body message
    ],
)
@pytest.mark.anyio
async def test_the_line_is_written_before_the_client_can_have_its_answer(
    tmp_path: Path, method: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    """The server sends the status line and headers on ``http.response.start`` (uvicorn writes
    them at once) and the last bytes on the final body message: the line is in the log when the
    message that completes the client's answer reaches the server - at the headers when the
    answer has no content (HEAD, 204, Content-Length: 0). It was written only at the body
    message, so a test reading the log right after a HEAD could miss its line
    (test_added_latency failed so in loaded runs)."""
    path = tmp_path / REQUEST_LOG
    log = RequestLog(path)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    lines_when_sent: dict[str, int] = {}

    async def server_send(message: Message) -> None:
        lines_when_sent[message["type"]] = len(read_log(path))

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope: Scope = {"type": "http", "method": method, "path": "/subscriptions/s/resourcegroups/rg"}
    try:
        await RequestLogMiddleware(app, log)(scope, receive, server_send)
    finally:
        log.close()
    bodiless = (
        method == "HEAD"
        or status == 204
        or (b"0" in [v for k, v in headers if k.lower() == b"content-length"])
    )
    completing = "http.response.start" if bodiless else "http.response.body"
    assert lines_when_sent[completing] == 1
    assert [(r["method"], r["status"]) for r in read_log(path)] == [(method, status)]  # one line only


def test_an_unfinished_last_line_is_not_read(tmp_path: Path) -> None:
    """Another process appends: a line without its newline yet is not a record (nor an error)."""
    path = tmp_path / REQUEST_LOG
    assert read_log(path) == []  # not there yet
    path.write_text('{"method":"GET"}\n{"method":"PU')
    assert read_log(path) == [{"method": "GET"}]
