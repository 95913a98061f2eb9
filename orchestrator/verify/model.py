"""Data of the verification flow: what to verify (``VerifyTarget``) and what came out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

# Signs a JWT with the authorization server's real key (local target only):
# (header overrides, claims) -> compact JWT.
TokenMinter = Callable[[Mapping[str, Any], Mapping[str, Any]], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class VerifyTarget:
    """Everything the verifier needs to know about one deployed lab."""

    mcp_url: str  # the URL clients use, e.g. https://<gateway>/mcp
    app_client_id: str  # the MCP app registration's client id (token audience)
    tenant_id: str
    scope: str  # e.g. <identifierUri-or-clientId>/user_impersonate
    client_id: str  # pre-registered public client used to sign in (VS Code's id by default)
    redirect_uri: str = "http://127.0.0.1:33418/"
    server_url: str | None = None  # the MCP server reached directly (bypassing the gateway)
    ca_file: Path | None = None  # extra CA to trust (local target)
    login_hint: str | None = None  # headless sign-in as this test user (local target)
    expected_profile: Mapping[str, str] | None = None  # the test user's Graph profile
    minter: TokenMinter | None = None  # local target: forge tokens signed with the real key
    token: str | None = None  # azure target: an access token obtained elsewhere (--token)
    interactive: bool = False  # azure target: open a browser for sign-in
    checks: frozenset[str] | None = None  # run only these (prefix match); None = all
    token_issuer: str | None = None  # issuer of the tokens the server accepts (Entra's), if not the PRM's
    api: str | None = None  # the lab.yaml key of the MCP API verified
    backend_keep_alive_s: float | None = None  # the MCP server's idle keep-alive; None: its default


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    outcome: Outcome
    detail: str = ""
    api: str | None = None  # the MCP API (lab.yaml key) the check ran against, in a lab with several

    @property
    def passed(self) -> bool:
        return self.outcome is not Outcome.FAIL


@dataclass(frozen=True, slots=True)
class Report:
    results: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """No check failed and at least one passed: a run that checked nothing proves nothing."""
        return any(r.outcome is Outcome.PASS for r in self.results) and all(r.passed for r in self.results)

    def as_json(self) -> dict[str, Any]:
        checks: list[dict[str, Any]] = []
        for r in self.results:
            check: dict[str, Any] = {"name": r.name, "outcome": r.outcome.value, "detail": r.detail}
            if r.api is not None:
                check["api"] = r.api
            checks.append(check)
        return {"ok": self.ok, "checks": checks}
