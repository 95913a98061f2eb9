"""``System.Text.RegularExpressions`` for expressions: ``Regex``, ``Match``, groups, ``RegexOptions``.

.NET patterns run on Python's ``re`` (named groups translated); compiled patterns are cached.
"""

# ruff: noqa: N802  - members carry their .NET names (m_<Name> methods, .NET properties)

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from emulator.gateway.expr.netlib.statics import StaticTable, StaticType, enum_type
from emulator.gateway.expr.values import (
    NetEnum,
    NetObject,
    argument_error,
    check_size,
    require_int,
    require_str,
)


def _regex(pattern: object) -> re.Pattern[str]:
    text = require_str(pattern, "pattern")
    # .NET named groups (?<name>...) -> Python (?P<name>...); lookbehinds (?<= / (?<! stay
    text = re.sub(r"\(\?<(?![=!])([A-Za-z_]\w*)>", r"(?P<\1>", text)
    text = re.sub(r"\\k<([A-Za-z_]\w*)>", r"(?P=\1)", text)
    try:
        return _regex_cached(text)
    except re.error as exc:
        raise argument_error(f"Invalid pattern '{pattern}': {exc}") from exc


_REGEX_CACHE: dict[str, re.Pattern[str]] = {}


def _regex_cached(text: str) -> re.Pattern[str]:
    compiled = _REGEX_CACHE.get(text)
    if compiled is None:
        compiled = re.compile(text)
        if len(_REGEX_CACHE) > 256:
            _REGEX_CACHE.clear()
        _REGEX_CACHE[text] = compiled
    return compiled


def _regex_flags(options: object) -> int:
    if options is None:
        return 0
    if isinstance(options, NetEnum) and options.enum == "RegexOptions":
        return re.IGNORECASE if options.name == "IgnoreCase" else 0
    raise argument_error("Unsupported RegexOptions value.")


def _replacement(text: str) -> Callable[[re.Match[str]], str]:
    def repl(m: re.Match[str]) -> str:
        out: list[str] = []
        i = 0
        while i < len(text):
            c = text[i]
            if c == "$" and i + 1 < len(text):
                nxt = text[i + 1]
                if nxt == "$":
                    out.append("$")
                    i += 2
                    continue
                if nxt.isdigit():
                    j = i + 1
                    while j < len(text) and text[j].isdigit():
                        j += 1
                    idx = int(text[i + 1 : j])
                    if idx <= (m.re.groups or 0):
                        out.append(m.group(idx) or "")
                        i = j
                        continue
                if nxt == "{":
                    end = text.find("}", i)
                    name = text[i + 2 : end] if end > 0 else ""
                    if name in m.re.groupindex or name.isdigit():
                        out.append(m.group(int(name) if name.isdigit() else name) or "")
                        i = end + 1
                        continue
                if nxt == "&":
                    out.append(m.group(0))
                    i += 2
                    continue
            out.append(c)
            i += 1
        return "".join(out)

    return repl


class RegexMatch(NetObject):
    NET_TYPE = "Match"
    NET_PROPS = frozenset({"Success", "Value", "Index", "Length", "Groups"})
    NET_METHODS = frozenset({"NextMatch"})

    def __init__(
        self, m: re.Match[str] | None, pattern: re.Pattern[str] | None = None, text: str = ""
    ) -> None:
        self._m = m
        self._pattern = pattern
        self._text = text

    @property
    def Success(self) -> bool:
        return self._m is not None

    @property
    def Value(self) -> str:
        return self._m.group(0) if self._m else ""

    @property
    def Index(self) -> int:
        return self._m.start() if self._m else 0

    @property
    def Length(self) -> int:
        return len(self.Value)

    @property
    def Groups(self) -> RegexGroups:
        return RegexGroups(self._m)

    def m_NextMatch(self) -> RegexMatch:
        if self._m is None or self._pattern is None:
            return RegexMatch(None)
        pos = self._m.end() if self._m.end() > self._m.start() else self._m.end() + 1
        return RegexMatch(self._pattern.search(self._text, pos), self._pattern, self._text)

    def net_str(self) -> str:
        return self.Value


class RegexGroups(NetObject):
    NET_TYPE = "GroupCollection"
    NET_PROPS = frozenset({"Count"})

    def __init__(self, m: re.Match[str] | None) -> None:
        self._m = m

    @property
    def Count(self) -> int:
        return (self._m.re.groups + 1) if self._m else 1

    def net_index(self, key: Any) -> Any:
        if self._m is None:
            return RegexGroup(None)
        try:
            if isinstance(key, str):
                return RegexGroup(self._m.group(key))
            return RegexGroup(self._m.group(require_int(key, "groupnum")))
        except (IndexError, re.error):
            return RegexGroup(None)


class RegexGroup(NetObject):
    NET_TYPE = "Group"
    NET_PROPS = frozenset({"Success", "Value"})

    def __init__(self, value: str | None) -> None:
        self._value = value

    @property
    def Success(self) -> bool:
        return self._value is not None

    @property
    def Value(self) -> str:
        return self._value or ""

    def net_str(self) -> str:
        return self.Value


def _regex_match(s: object, p: object, o: object = None) -> RegexMatch:
    pattern = re.compile(_regex(p).pattern, _regex_flags(o))
    text = require_str(s, "input")
    return RegexMatch(pattern.search(text), pattern, text)


STATIC: StaticTable = (
    (
        ("Regex",),
        StaticType(
            "Regex",
            {},
            {
                "IsMatch": lambda s, p, o=None: (
                    re.compile(_regex(p).pattern, _regex_flags(o)).search(require_str(s, "input")) is not None
                ),
                "Match": lambda s, p, o=None: _regex_match(s, p, o),
                "Replace": lambda s, p, r, o=None: check_size(
                    re.compile(_regex(p).pattern, _regex_flags(o)).sub(
                        _replacement(require_str(r, "replacement")), require_str(s, "input")
                    )
                ),
                "Split": lambda s, p, o=None: re.compile(_regex(p).pattern, _regex_flags(o)).split(
                    require_str(s, "input")
                ),
                "Escape": lambda s: re.escape(require_str(s, "str")),
            },
        ),
    ),
    (
        ("RegexOptions",),
        enum_type(
            "RegexOptions",
            (
                "None",
                "IgnoreCase",
                "Multiline",
                "Singleline",
                "Compiled",
                "CultureInvariant",
                "ExplicitCapture",
                "IgnorePatternWhitespace",
            ),
        ),
    ),
)
