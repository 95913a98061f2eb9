"""``${VAR}`` / ``${VAR:-default}`` interpolation of lab.yaml string values (pure).

Step 1 of loading (``yamlsource`` calls it on every scalar string value, never on keys).
``$${`` writes a literal ``${``. ``${VAR:-default}`` uses the default when VAR is unset *or
empty* (as a POSIX shell does); ``${VAR}`` with VAR unset is an issue at the ``$``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class InterpolationIssue:
    """A problem at character ``offset`` of the string being interpolated."""

    offset: int
    message: str


def interpolate(text: str, env: Mapping[str, str]) -> tuple[str, tuple[InterpolationIssue, ...]]:
    """Return ``text`` with every ``${...}`` replaced, and the problems found (all of them)."""
    if "$" not in text:
        return text, ()
    out: list[str] = []
    issues: list[InterpolationIssue] = []
    i = 0
    n = len(text)
    while i < n:
        if text.startswith("$${", i):
            out.append("${")
            i += 3
            continue
        if not text.startswith("${", i):
            out.append(text[i])
            i += 1
            continue
        end = text.find("}", i + 2)
        if end < 0:
            issues.append(
                InterpolationIssue(i, "unterminated '${': write '}' to close it, or '$${' for a literal '${'")
            )
            out.append(text[i:])
            break
        body = text[i + 2 : end]
        name, sep, default = body.partition(":-")
        if not _NAME.fullmatch(name):
            issues.append(
                InterpolationIssue(
                    i,
                    f"invalid variable name '{name}' in '${{{body}}}' (use ${{NAME}} or ${{NAME:-default}})",
                )
            )
        elif sep:
            out.append(env.get(name) or default)
        elif name in env:
            out.append(env[name])
        else:
            issues.append(
                InterpolationIssue(
                    i, f"environment variable {name} is not set (set it, or write ${{{name}:-default}})"
                )
            )
        i = end + 1
    return "".join(out), tuple(issues)
