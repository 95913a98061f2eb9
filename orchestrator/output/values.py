"""How one value is shown in a plan: markers for unknown and secret values, JSON for the rest.

Used by ``plan_text`` and ``json_doc``; pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator.resource import UNKNOWN, Secret

KNOWN_AFTER_APPLY = "(known after apply)"
SENSITIVE = "(sensitive)"


def is_multiline(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value.strip("\n")


def show(value: Any) -> str:
    """One-line text form: strings quoted, markers bare, containers as compact JSON."""
    if value is UNKNOWN:
        return KNOWN_AFTER_APPLY
    if isinstance(value, Secret):
        return SENSITIVE
    return json.dumps(to_json(value, text_markers=True), ensure_ascii=False, default=str)


def to_json(value: Any, *, text_markers: bool = False) -> Any:
    """A JSON-able copy; markers become ``{"unknown": true}`` / ``{"sensitive": true}``
    (or their printed text with ``text_markers``)."""
    if value is UNKNOWN:
        return KNOWN_AFTER_APPLY if text_markers else {"unknown": True}
    if isinstance(value, Secret):
        return SENSITIVE if text_markers else {"sensitive": True}
    if isinstance(value, Mapping):
        return {str(k): to_json(v, text_markers=text_markers) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [to_json(v, text_markers=text_markers) for v in items]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
