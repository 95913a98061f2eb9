"""docs/policies.md's first table is complete and true (issue 20 item 5): it lists every element of
Learn's "API Management policy reference", and what it says of each (runs / refused) is what the
gateway does — a builder for the elements that run, a reason in ``elements.refused`` for the others."""

from __future__ import annotations

import re
from pathlib import Path

from emulator.gateway.elements import BUILDERS, REFUSED

DOCS = Path(__file__).resolve().parents[3] / "docs" / "policies.md"

# Learn "API Management policy reference" (MicrosoftDocs/azure-docs
# articles/api-management/api-management-policies.md: rate limiting and quotas, authentication
# and authorization, content validation, routing, caching, transformation, cross-domain,
# integration, logging, GraphQL resolvers, policy control and flow) and its AI gateway pages
# (llm-*/azure-openai-* token limit, token metric, semantic cache, llm-content-safety)
LEARN = {
    "rate-limit", "rate-limit-by-key", "quota", "quota-by-key", "limit-concurrency",
    "check-header", "get-authorization-context", "ip-filter", "validate-azure-ad-token", "validate-jwt",
    "validate-client-certificate", "authentication-basic", "authentication-certificate",
    "authentication-managed-identity",
    "validate-content", "validate-graphql-request", "validate-odata-request", "validate-parameters",
    "validate-headers", "validate-status-code",
    "forward-request", "set-backend-service", "proxy",
    "cache-lookup", "cache-store", "cache-lookup-value", "cache-store-value", "cache-remove-value",
    "azure-openai-semantic-cache-lookup", "azure-openai-semantic-cache-store",
    "llm-semantic-cache-lookup", "llm-semantic-cache-store",
    "set-method", "set-status", "set-variable", "set-body", "set-header", "set-query-parameter",
    "rewrite-uri", "json-to-xml", "xml-to-json", "find-and-replace", "redirect-content-urls",
    "xsl-transform", "return-response", "mock-response",
    "cross-domain", "cors", "jsonp",
    "send-request", "send-one-way-request", "log-to-eventhub", "publish-to-dapr", "invoke-dapr-binding",
    "trace", "emit-metric",
    "sql-data-source", "cosmosdb-data-source", "http-data-source", "publish-event",
    "choose", "include-fragment", "retry", "wait",
    "azure-openai-token-limit", "llm-token-limit", "azure-openai-emit-token-metric", "llm-emit-token-metric",
    "llm-content-safety",
}  # fmt: skip


def _rows() -> dict[str, str]:
    """element -> what the first table says of it."""
    text = DOCS.read_text(encoding="utf-8")
    table = text.split("### Every element of APIM's policy reference", 1)[1].split("###", 1)[0]
    rows: dict[str, str] = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        for name in re.findall(r"`([a-z-]+)`", cells[0]):
            if "(Dapr)" in cells[0] and name == "set-backend-service":
                continue  # the Dapr form of set-backend-service: one of its attributes, refused
            rows[name] = cells[1]
    return rows


def test_every_element_of_the_reference_has_a_row() -> None:
    assert sorted(LEARN - set(_rows())) == []


def test_what_the_table_says_is_what_the_gateway_does() -> None:
    wrong = []
    for name, said in _rows().items():
        runs = name in BUILDERS or name == "include-fragment"  # the compiler inlines fragments
        if said.startswith("runs") != runs or said.startswith("refused") != (not runs and name in REFUSED):
            wrong.append(
                (name, said[:40], "builder" if runs else "refused" if name in REFUSED else "unknown")
            )
    assert wrong == []


def test_every_element_the_gateway_knows_is_in_the_table() -> None:
    known = (set(BUILDERS) | set(REFUSED)) - {"base"}
    assert sorted(known - set(_rows())) == []
