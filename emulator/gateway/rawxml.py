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


_REGULAR = re.compile(r'"(?:\\.|[^"\\])*"', re.DOTALL)
_VERBATIM = re.compile(r'"(?:""|[^"])*"')
_CHAR_LITERAL = re.compile(r"'(?:\\.|[^\\'])'")
_INTERESTING = re.compile(r"[(){}\"'/\n]")


def _skip_string(text: str, i: int) -> int:
    """``text[i]`` is the opening quote of a C# string (regular/verbatim/interpolated prefix
    already consumed by the caller); returns the index after the closing quote, or -1."""
    verbatim = (i > 0 and text[i - 1] == "@") or (i > 1 and text[i - 2 : i] in ("@$", "$@"))
    m = (_VERBATIM if verbatim else _REGULAR).match(text, i)
    return m.end() if m is not None else -1


def expression_end(text: str, start: int, quote: str | None = None) -> int:
    """End (exclusive) of the expression whose ``@`` is at ``start``; -1 if unbalanced.

    Inside an attribute value (``quote`` set), a quote character that cannot belong to a C#
    literal ends the scan early: that is the attribute's own closing quote.
    """
    opener = text[start + 1]
    depth = 0
    j = start + 1
    while True:
        found = _INTERESTING.search(text, j)
        if found is None:
            return -1
        j = found.start()
        c = text[j]
        if c in "({":
            depth += 1
        elif c in ")}":
            depth -= 1
            if depth == 0:
                return j + 1 if c == _CLOSE[opener] else -1
        elif c == "/":
            if text.startswith("//", j):
                # a C# line comment (quotes and brackets in it are not code) runs to the line's end
                newline = text.find("\n", j)
                if newline < 0:
                    return -1
                j = newline
                continue
            if text.startswith("/*", j):
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
            m = _CHAR_LITERAL.match(text, j)
            if m:
                j = m.end()
                continue
        elif c == "\n" and quote is None and depth == 0:
            return -1
        j += 1


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


_TEXT_STOP = re.compile(r"[<@]")
_TAG_STOP = re.compile(r"[\"'>]")


def escape_expressions(xml: str) -> str:
    out: list[str] = []
    i = 0
    n = len(xml)
    state = "text"
    quote = ""
    while i < n:
        if state == "text":
            stop = _TEXT_STOP.search(xml, i)
            if stop is None:
                out.append(xml[i:])
                break
            out.append(xml[i : stop.start()])
            i = stop.start()
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
            if xml[i] == "<":
                state = "tag"
            out.append(xml[i])
            i += 1
            continue
        if state == "tag":
            stop = _TAG_STOP.search(xml, i)
            if stop is None:
                out.append(xml[i:])
                break
            out.append(xml[i : stop.start()])
            i = stop.start()
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
            state = "text"  # '>'
            out.append(c)
            i += 1
            continue
        end = xml.find(quote, i)  # attr
        if end < 0:
            out.append(xml[i:])
            break
        out.append(xml[i : end + 1])
        state = "tag"
        i = end + 1
    return "".join(out)
