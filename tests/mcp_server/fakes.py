"""Fake outbound seams for the tool: an OBO exchanger and a Graph profile source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mcp_server.graph import ConsentRequiredError, UpstreamError

ME = {
    "displayName": "Ada Lovelace",
    "mail": None,
    "userPrincipalName": "ada@contoso.test",
    "id": "0b7c4e4e-0000-4000-8000-000000000001",
    "jobTitle": "Analyst",
    "department": "Engines",
    "officeLocation": "London",
}


@dataclass
class FakeExchanger:
    error: Exception | None = None
    seen: list[str] = field(default_factory=list)

    async def exchange(self, user_token: str) -> str:
        self.seen.append(user_token)
        if self.error is not None:
            raise self.error
        return f"graph-token-for:{user_token}"


@dataclass
class FakeGraph:
    profile: dict[str, Any] = field(default_factory=lambda: dict(ME))
    error: Exception | None = None
    seen: list[str] = field(default_factory=list)

    async def me(self, graph_token: str) -> dict[str, Any]:
        self.seen.append(graph_token)
        if self.error is not None:
            raise self.error
        return self.profile


__all__ = ["ME", "ConsentRequiredError", "FakeExchanger", "FakeGraph", "UpstreamError"]
