"""``prmlab trace``'s text from a trace document (pure)."""

from __future__ import annotations

from orchestrator.output.trace_text import trace_text

DOC = {
    "traceId": "a" * 32,
    "api": "mcp",
    "operation": "post",
    "elapsed": 3.25,
    "traceEntries": [
        {
            "scope": "api",
            "section": "inbound",
            "source": "choose",
            "line": 4,
            "depth": 0,
            "elapsed": 0.1,
            "note": "no condition is true",
            "decision": "ok",
            "variables": {},
            "duration": 0.05,
        },
        {
            "scope": "api",
            "section": "inbound",
            "source": "set-variable",
            "line": 9,
            "depth": 0,
            "elapsed": 0.2,
            "decision": "ok",
            "variables": {"who": "adele"},
            "duration": 0.01,
        },
        {
            "scope": "api",
            "section": "inbound",
            "source": "validate-azure-ad-token",
            "line": 14,
            "depth": 0,
            "elapsed": 0.3,
            "decision": "refused — audience mismatch (TokenAudienceNotAllowed): Unauthorized.",
            "variables": {},
            "duration": 2.0,
        },
        {
            "scope": "global",
            "section": "on-error",
            "source": "return-response",
            "line": 40,
            "depth": 1,
            "elapsed": 2.5,
            "decision": "returned 401",
            "variables": {},
            "duration": 0.02,
        },
    ],
}


def test_sections_scopes_decisions_variables_and_the_refusal() -> None:
    text = trace_text(DOC, 401, "POST", "https://gw/mcp")
    assert text.splitlines()[0] == "POST https://gw/mcp -> 401"
    assert "[inbound] api scope" in text
    assert "[on-error] global scope" in text
    assert "  - choose (line 4): ok  [0.1 ms, took 0.1 ms]" in text
    assert "      no condition is true" in text
    assert "      set who = adele" in text
    assert "  x validate-azure-ad-token (line 14): refused — audience mismatch" in text
    assert "    < return-response (line 40): returned 401" in text  # nested one level
    assert text.rstrip().endswith(
        "refused by validate-azure-ad-token (api scope, inbound, line 14): "
        "audience mismatch (TokenAudienceNotAllowed): Unauthorized."
    )


def test_an_empty_trace_says_so() -> None:
    text = trace_text({"traceEntries": []}, 404, "GET", "https://gw/x")
    assert "no policy element ran" in text
    assert "refused by" not in text
