"""``prmlab trace``'s text: an APIM request trace (``Gateway_ListTrace``'s body) for a person.

Pure formatting, no I/O (``orchestrator.tracing`` fetches the document). One block per scope
and section, in the order the gateway ran them (global -> api -> operation within each of
inbound, backend, outbound, on-error); per element: its line in the policy, the decision
(``ok``, ``refused — audience mismatch (TokenAudienceNotAllowed): ...``, ``returned 401``), what
it decided on (``choose``: the branch taken), the variables it set and its timing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def trace_text(doc: Mapping[str, Any], status: int, method: str, url: str) -> str:
    """The trace of one request as text (ends with a newline)."""
    entries = [e for e in doc.get("traceEntries") or [] if isinstance(e, Mapping)]
    lines = [
        f"{method} {url} -> {status}",
        f"api {doc.get('api') or '?'}, operation {doc.get('operation') or '?'}, "
        f"trace {doc.get('traceId') or '?'}, {_ms(doc.get('elapsed'))} in the gateway",
    ]
    if not entries:
        lines.append("no policy element ran")
    block: tuple[str, str] | None = None
    for entry in entries:
        here = (str(entry.get("section", "?")), str(entry.get("scope", "?")))
        if here != block:
            block = here
            lines.append(f"\n[{here[0]}] {here[1]} scope")
        indent = "  " * (1 + int(entry.get("depth") or 0))
        decision = str(entry.get("decision", "?"))
        mark = "x" if decision.startswith("refused") else ("<" if decision.startswith("returned") else "-")
        lines.append(
            f"{indent}{mark} {entry.get('source', '?')} (line {entry.get('line', '?')}): {decision}"
            f"  [{_ms(entry.get('elapsed'))}, took {_ms(entry.get('duration'))}]"
        )
        if entry.get("note"):
            lines.append(f"{indent}    {entry['note']}")
        for name, value in (entry.get("variables") or {}).items():
            lines.append(f"{indent}    set {name} = {value}")
    refused = [e for e in entries if str(e.get("decision", "")).startswith("refused")]
    if refused:
        first = refused[0]
        lines.append(
            f"\nrefused by {first.get('source')} ({first.get('scope')} scope, {first.get('section')}, "
            f"line {first.get('line')}): {str(first.get('decision'))[len('refused — ') :]}"
        )
    return "\n".join(lines) + "\n"


def _ms(value: Any) -> str:
    return f"{float(value):.1f} ms" if isinstance(value, int | float) else "? ms"
