"""The request log's classification of paths (pure) and what it never records."""

from __future__ import annotations

import pytest

from emulator.reqlog import api_of, resource_of
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
