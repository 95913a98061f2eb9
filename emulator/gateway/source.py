"""Where each element, attribute value and element text of a policy sits in the text as written.

The XML parser cannot say it: libxml2 reports an element's line as the line where its start
tag *ends*, normalises newlines and tabs inside attribute values to spaces (XML 1.0 section
3.3.3, so a C# ``//`` comment in a multi-line ``@{ ... }`` attribute would swallow the rest of
the expression), and a document re-serialised for checking has lost what stood before its
root (an XML declaration, comments). ``scan`` reads the original text once (with APIM's
leniency for unescaped ``<``, ``>``, ``&`` and quotes inside expressions, as ``rawxml``) and
returns, in document order, each start tag's line and column and the spans of its attribute
values and leading text: the decoded text (entities resolved, line breaks normalised as XML
does, but newlines and tabs kept) and the document offset of every character.

``locate`` pairs those with the elements of a parsed tree (document order), ``keep_raw_values``
puts the newline-preserving attribute text back on the elements (serialised as ``&#10;``, so
the stored policy keeps its line structure), and ``Where`` maps an offset inside a value to
the line and column the user sees. Pure functions, no I/O; lines and columns are 1-based.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from emulator.gateway.rawxml import expression_end

_ENTITY = re.compile(r"&(?:([A-Za-z]+)|#([0-9]+)|#x([0-9A-Fa-f]+));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_NAME_START = re.compile(r"[A-Za-z_:\u00c0-\uffff]")
_NAME = re.compile(r"[A-Za-z0-9_:.\-\u00b7\u00c0-\uffff]+")
_BREAK = re.compile(r"\r\n|\r|\n")
_PLAIN = re.compile(r"[^<@&\r]+")  # text characters that decode to themselves
_MARKUP = re.compile(r"[<@]")


@dataclass(frozen=True, slots=True)
class Lines:
    """Line starts of a document: offset -> (line, column)."""

    starts: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> Lines:
        return cls((0, *(m.end() for m in _BREAK.finditer(text))))

    def at(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1


@dataclass(frozen=True, slots=True)
class Span:
    """A value's text as the parser decodes it (newlines kept) and the offset of each character."""

    text: str
    offsets: tuple[int, ...]
    end: int  # document offset just after the value
    lines: Lines

    def position(self, i: int) -> tuple[int, int]:
        if 0 <= i < len(self.offsets):
            return self.lines.at(self.offsets[i])
        return self.lines.at(self.end)


@dataclass(frozen=True, slots=True)
class TagSource:
    """One start tag: its name, where its ``<`` is, its attribute values and leading text."""

    name: str
    line: int
    column: int
    attrs: Mapping[str, Span]
    text: Span | None
    inner: tuple[int, int] | None = None  # offsets of the content (None: self-closing)


@dataclass(frozen=True, slots=True)
class Where:
    """Where a value starts; ``at`` maps an offset in the value's text to (line, column)."""

    line: int
    column: int
    span: Span | None = None

    def at(self, text: str, i: int) -> tuple[int, int]:
        if self.span is not None and self.span.text == text:
            return self.span.position(i)
        # the text was changed after scanning (a named value substituted): count from the start
        before = text[:i]
        newlines = before.count("\n")
        if newlines == 0:
            return self.line, self.column + i
        return self.line + newlines, i - before.rfind("\n")


class _Text:
    """Accumulates decoded characters and their offsets."""

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.offsets: list[int] = []

    def add(self, source: str, start: int, end: int) -> None:
        """Decode ``source[start:end]`` (entities, XML line-break normalisation)."""
        i = start
        while i < end:
            plain = _PLAIN.match(source, i, end)
            if plain is not None:
                self.chars.append(plain.group(0))
                self.offsets.extend(range(i, plain.end()))
                i = plain.end()
                continue
            c = source[i]
            if c == "&":
                m = _ENTITY.match(source, i, end)
                if m is not None:
                    self.chars.append(_decode(m))
                    self.offsets.append(i)
                    i = m.end()
                    continue
            if c == "\r":
                self.chars.append("\n")
                self.offsets.append(i)
                i += 2 if source[i + 1 : i + 2] == "\n" else 1
                continue
            self.chars.append(c)
            self.offsets.append(i)
            i += 1

    def add_verbatim(self, source: str, start: int, end: int) -> None:
        for i in range(start, end):
            if source[i] == "\r":
                if source[i + 1 : i + 2] == "\n":
                    continue
                self.chars.append("\n")
            else:
                self.chars.append(source[i])
            self.offsets.append(i)

    def span(self, end: int, lines: Lines) -> Span:
        text = "".join(self.chars)
        assert len(text) == len(self.offsets)
        return Span(text, tuple(self.offsets), end, lines)


def _decode(m: re.Match[str]) -> str:
    if m.group(1) is not None:
        return _NAMED.get(m.group(1), m.group(0))
    try:
        return chr(int(m.group(2), 10) if m.group(2) is not None else int(m.group(3), 16))
    except (ValueError, OverflowError):
        return m.group(0)


class _Scanner:
    def __init__(self, xml: str) -> None:
        self.xml = xml
        self.n = len(xml)
        self.lines = Lines.of(xml)
        self.tags: list[dict[str, Any]] = []
        self.open: list[int] = []  # indexes into tags of elements whose end tag is pending
        self.text: _Text | None = None  # leading text of the last start tag, while it lasts
        self.text_owner = -1

    def finish_text(self, at: int) -> None:
        if self.text is not None:
            self.tags[self.text_owner]["text"] = self.text.span(at, self.lines)
            self.text = None

    def run(self) -> list[TagSource]:
        xml, n = self.xml, self.n
        i = 0
        while i < n:
            if xml.startswith("<!--", i):
                self.finish_text(i)
                i = self._skip(i, "-->")
            elif xml.startswith("<![CDATA[", i):
                end = xml.find("]]>", i + 9)
                end = n if end < 0 else end
                if self.text is not None:
                    self.text.add_verbatim(xml, i + 9, end)
                i = min(n, end + 3)
            elif xml.startswith("<?", i):
                self.finish_text(i)
                i = self._skip(i, "?>")
            elif xml.startswith("<!", i):
                self.finish_text(i)
                i = self._skip_declaration(i)
            elif xml.startswith("</", i):
                self.finish_text(i)
                if self.open:
                    index = self.open.pop()
                    start = self.tags[index]["inner"]
                    self.tags[index]["inner"] = (start, i)
                i = self._skip(i, ">")
            elif xml[i] == "<" and _NAME_START.match(xml, i + 1):
                self.finish_text(i)
                i = self._start_tag(i)
            elif xml.startswith(("@(", "@{"), i) and (end := expression_end(xml, i)) > 0:
                if self.text is not None:
                    self.text.add(xml, i, end)
                i = end
            elif self.text is None:
                stop = _MARKUP.search(xml, i + 1)
                i = n if stop is None else stop.start()
            else:
                end = i + 1
                if xml[i] == "&":
                    m = _ENTITY.match(xml, i)
                    end = m.end() if m else i + 1
                elif xml.startswith("\r\n", i):
                    end = i + 2
                if end == i + 1 and (plain := _PLAIN.match(xml, i)) is not None:
                    end = plain.end()
                self.text.add(xml, i, end)
                i = end
        self.finish_text(n)
        return [
            TagSource(t["name"], t["line"], t["column"], t["attrs"], t.get("text"), _inner(t))
            for t in self.tags
        ]

    def _skip(self, i: int, terminator: str) -> int:
        end = self.xml.find(terminator, i + 1)
        return self.n if end < 0 else end + len(terminator)

    def _skip_declaration(self, i: int) -> int:
        """``<!DOCTYPE ...>`` (with an internal subset in brackets)."""
        depth = 0
        j = i + 2
        while j < self.n:
            c = self.xml[j]
            if c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
            elif c == ">" and depth <= 0:
                return j + 1
            j += 1
        return self.n

    def _start_tag(self, i: int) -> int:
        xml, n = self.xml, self.n
        m = _NAME.match(xml, i + 1)
        assert m is not None
        line, column = self.lines.at(i)
        record: dict[str, Any] = {"name": m.group(0), "line": line, "column": column, "attrs": {}}
        self.tags.append(record)
        j = m.end()
        while j < n:
            c = xml[j]
            if c in " \t\r\n":
                j += 1
                continue
            if xml.startswith("/>", j):
                return j + 2
            if c == ">":
                record["inner"] = j + 1
                self.open.append(len(self.tags) - 1)
                self.text = _Text()
                self.text_owner = len(self.tags) - 1
                return j + 1
            name = _NAME.match(xml, j)
            if name is None:
                return j + 1  # not well-formed: the parser has refused it already
            j = name.end()
            while j < n and xml[j] in " \t\r\n":
                j += 1
            if xml[j : j + 1] != "=":
                return j
            j += 1
            while j < n and xml[j] in " \t\r\n":
                j += 1
            quote = xml[j : j + 1]
            if quote not in ('"', "'"):
                return j
            start = j + 1
            end = -1
            if xml.startswith(("@(", "@{"), start):
                end = expression_end(xml, start, quote)
                if end > 0 and xml[end : end + 1] != quote:
                    end = -1
            if end < 0:
                end = xml.find(quote, start)
                if end < 0:
                    return n
            value = _Text()
            value.add(xml, start, end)
            record["attrs"][name.group(0)] = value.span(end, self.lines)
            j = end + 1
        return n


def _inner(record: dict[str, Any]) -> tuple[int, int] | None:
    inner = record.get("inner")
    return inner if isinstance(inner, tuple) else None


def scan(xml: str) -> list[TagSource]:
    """Start tags of ``xml`` in document order (never raises on malformed text: it stops)."""
    return _Scanner(xml).run()


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


def locate(root: etree._Element, tags: Sequence[TagSource]) -> dict[etree._Element, TagSource]:
    """Pair the elements of ``root`` (document order) with the scanned tags; {} if they differ."""
    elements = [el for el in root.iter() if isinstance(el.tag, str)]
    if len(elements) != len(tags):
        return {}
    for el, t in zip(elements, tags, strict=True):
        if _local(str(el.tag)) != _local(t.name):
            return {}
    return dict(zip(elements, tags, strict=True))


def _normalised(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ")


def keep_raw_values(positions: Mapping[etree._Element, TagSource]) -> None:
    """Give every attribute its text as written (newlines and tabs kept), where the parser
    normalised them away; the serialiser then writes them as character references."""
    for el, t in positions.items():
        for name, span in t.attrs.items():
            if ":" in name:
                continue
            parsed = el.get(name)
            if parsed is not None and parsed != span.text and parsed == _normalised(span.text):
                el.set(name, span.text)


def reference_site(tags: Iterable[TagSource], lines: Lines, offset: int) -> tuple[str, int, int]:
    """The element whose start tag precedes ``offset`` and the (line, column) of ``offset``."""
    line, column = lines.at(offset)
    name = "policies"
    for t in tags:
        if (t.line, t.column) > (line, column):
            break
        name = _local(t.name)
    return name, line, column
