"""APIM's leniency for policy expressions inside XML: ``<``, ``>``, ``&`` and the attribute's own
quote character may appear unescaped inside ``@(...)`` / ``@{...}`` (policy documents commonly
carry ``Body.As<JObject>()``, ``a && b`` or ``value="@(x.GetValueOrDefault("h", ""))"``).

``escape_expressions`` escapes those characters inside expression spans only, so the text
becomes well-formed XML; everything else is left byte for byte. Spans are delimited by
bracket matching that skips C# string and character literals and comments. Pure function, no I/O.
"""

from __future__ import annotations

import re

_ENTITY = re.compile(r"&(?:[A-Za-z]+|#[0-9]+|#x[0-9A-Fa-f]+);")
_CLOSE = {"(": ")", "{": "}"}


def _skip_string(text: str, i: int) -> int:
    """``text[i]`` is the opening quote of a C# string (regular/verbatim/interpolated prefix
    already consumed by the caller); returns the index after the closing quote, or -1."""
    verbatim = (i > 0 and text[i - 1] == "@") or (i > 1 and text[i - 2 : i] in ("@$", "$@"))
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and not verbatim:
            j += 2
            continue
        if c == '"':
            if verbatim and text[j + 1 : j + 2] == '"':
                j += 2
                continue
            return j + 1
        j += 1
    return -1


def expression_end(text: str, start: int, quote: str | None = None) -> int:
    """End (exclusive) of the expression whose ``@`` is at ``start``; -1 if unbalanced.

    Inside an attribute value (``quote`` set), a quote character that cannot belong to a C#
    literal ends the scan early: that is the attribute's own closing quote.
    """
    opener = text[start + 1]
    depth = 0
    j = start + 1
    while j < len(text):
        c = text[j]
        if c in "({":
            depth += 1
        elif c in ")}":
            depth -= 1
            if depth == 0:
                return j + 1 if c == _CLOSE[opener] else -1
        elif text.startswith("//", j):
            # a C# line comment (quotes and brackets in it are not code) runs to the line's end
            newline = text.find("\n", j)
            if newline < 0:
                return -1
            j = newline
            continue
        elif text.startswith("/*", j):
            close = text.find("*/", j + 2)
            if close < 0:
                return -1
            j = close + 2
            continue
        elif c == '"':
            end = _skip_string(text, j)
            if end < 0:
                return -1
            j = end
            continue
        elif c == "'" and quote != "'":
            m = re.match(r"'(?:\\.|[^\\'])'", text[j:])
            if m:
                j += m.end()
                continue
        elif c == "\n" and quote is None and depth == 0:
            return -1
        j += 1
    return -1


def _escape_span(span: str, quote: str | None) -> str:
    out: list[str] = []
    i = 0
    while i < len(span):
        c = span[i]
        if c == "&":
            m = _ENTITY.match(span, i)
            if m:
                out.append(m.group(0))
                i = m.end()
                continue
            out.append("&amp;")
        elif c == "<":
            out.append("&lt;")
        elif c == ">":
            out.append("&gt;")
        elif quote is not None and c == quote:
            out.append("&quot;" if c == '"' else "&apos;")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def escape_expressions(xml: str) -> str:
    out: list[str] = []
    i = 0
    n = len(xml)
    state = "text"
    quote = ""
    while i < n:
        if state == "text":
            if xml.startswith("<!--", i):
                end = xml.find("-->", i)
                end = n if end < 0 else end + 3
                out.append(xml[i:end])
                i = end
                continue
            if xml.startswith("<![CDATA[", i):
                end = xml.find("]]>", i)
                end = n if end < 0 else end + 3
                out.append(xml[i:end])
                i = end
                continue
            if xml.startswith(("@(", "@{"), i):
                end = expression_end(xml, i)
                if end > 0:
                    out.append(_escape_span(xml[i:end], None))
                    i = end
                    continue
            c = xml[i]
            if c == "<":
                state = "tag"
            out.append(c)
            i += 1
            continue
        if state == "tag":
            c = xml[i]
            if c in "\"'":
                state, quote = "attr", c
                out.append(c)
                i += 1
                if xml.startswith(("@(", "@{"), i):
                    end = expression_end(xml, i, quote)
                    if end > 0 and xml[end : end + 1] == quote:
                        out.append(_escape_span(xml[i:end], quote))
                        i = end
                continue
            if c == ">":
                state = "text"
            out.append(c)
            i += 1
            continue
        c = xml[i]  # attr
        if c == quote:
            state = "tag"
        out.append(c)
        i += 1
    return "".join(out)
