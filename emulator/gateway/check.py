"""Policy XML checks done when a policy is stored through ARM (the PUT-time gate).

``check_policy`` is called by the ARM layer for every policy PUT: it refuses what real APIM
refuses (malformed XML, wrong root, a ``{{Name}}`` with no such named value) and what the
local gateway cannot run, and returns the XML reformatted as APIM stores it.
(First cut: well-formedness, root element, named values, reformatting. The gateway's
owner extends it with element/attribute/expression checks.)
"""

from __future__ import annotations

import re
from collections.abc import Collection

from lxml import etree

_NAMED_VALUE = re.compile(r"\{\{([^{}]+)\}\}")


class PolicyRejectedError(Exception):
    """APIM's answer to a bad policy: HTTP 400 with ``code`` and ``message`` (naming the line)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def named_value_references(xml: str) -> set[str]:
    return {m.group(1).strip() for m in _NAMED_VALUE.finditer(xml)}


def check_policy(xml: str, named_values: Collection[str]) -> str:
    """Validate a policy document; return it as APIM stores it, or raise ``PolicyRejectedError``."""
    known = {n.lower() for n in named_values}
    for name in sorted(named_value_references(xml)):
        if name.lower() not in known:
            raise PolicyRejectedError(
                "ValidationError",
                f"Cannot find a property '{name}'. A named value referenced by the policy does not exist.",
            )
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
    try:
        root = etree.fromstring(xml.encode(), parser)
    except etree.XMLSyntaxError as exc:
        where = f"Line {exc.lineno}, position {exc.offset}"
        raise PolicyRejectedError("ValidationError", f"'{exc.msg}' {where}.") from exc
    if root.tag != "policies":
        raise PolicyRejectedError(
            "ValidationError",
            f"Root element must be 'policies', found '{root.tag}' (line {root.sourceline}).",
        )
    etree.indent(root, space="\t")
    return etree.tostring(root, encoding="unicode")
