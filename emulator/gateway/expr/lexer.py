"""Tokenizer of the C# policy-expression subset (first stage: text -> tokens).

Policy expressions arrive as the text after ``@`` in a policy attribute or element
(``(...)`` or ``{...}``). The tokenizer turns them into a flat token list for
``expr.parser``; interpolated strings (``$"...{x}..."``) keep their parts so the parser can
parse the holes as expressions. Every error names the offending character's offset.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import Enum


class ExpressionSyntaxError(Exception):
    """A policy expression the local gateway cannot parse (or does not support)."""

    def __init__(self, message: str, pos: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class Tok(Enum):
    IDENT = "identifier"
    NUMBER = "number"
    STRING = "string"
    CHAR = "char"
    INTERP = "interpolated string"
    OP = "operator"
    EOF = "end of expression"


@dataclass(frozen=True, slots=True)
class InterpHole:
    source: str
    offset: int  # offset of ``source`` in the whole expression text
    fmt: str | None


@dataclass(frozen=True, slots=True)
class Token:
    kind: Tok
    value: object  # str for IDENT/OP/STRING/CHAR; int|float for NUMBER; tuple of parts for INTERP
    pos: int
    text: str = ""


_OPERATORS = sorted(
    [
        "??=", "=>", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "?[", "++", "--", "+=", "-=", "*=",
        "/=", "%=", "+", "-", "*", "/", "%", "!", "~", "<", ">", "=", "?", ":", ".", ",", ";", "(", ")",
        "[", "]", "{", "}", "&", "|", "^",
    ],
    key=len,
    reverse=True,
)  # fmt: skip

_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "0": "\0",
    "\\": "\\",
    '"': '"',
    "'": "'",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}
MAX_TOKENS = 20_000


def _escape(text: str, i: int) -> tuple[str, int]:
    """Decode the escape starting at ``text[i] == '\\'``; returns (char, next index)."""
    if i + 1 >= len(text):
        raise ExpressionSyntaxError("Unterminated escape sequence", i)
    c = text[i + 1]
    if c in _ESCAPES:
        return _ESCAPES[c], i + 2
    if c == "u":
        digits = text[i + 2 : i + 6]
        if len(digits) != 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise ExpressionSyntaxError("Invalid \\u escape sequence", i)
        return chr(int(digits, 16)), i + 6
    raise ExpressionSyntaxError(f"Unrecognized escape sequence '\\{c}'", i)


def _read_string(text: str, i: int, verbatim: bool) -> tuple[str, int]:
    """Read a (verbatim) string literal whose opening quote is at ``text[i]``."""
    out: list[str] = []
    j = i + 1
    while True:
        if j >= len(text):
            raise ExpressionSyntaxError("Unterminated string literal", i)
        c = text[j]
        if c == '"':
            if verbatim and text[j + 1 : j + 2] == '"':
                out.append('"')
                j += 2
                continue
            return "".join(out), j + 1
        if c == "\\" and not verbatim:
            ch, j = _escape(text, j)
            out.append(ch)
            continue
        if c == "\n" and not verbatim:
            raise ExpressionSyntaxError("Newline in string literal", j)
        out.append(c)
        j += 1


def _read_interpolated(text: str, i: int, verbatim: bool) -> tuple[tuple[str | InterpHole, ...], int]:
    """Read ``$"..."`` starting at its opening quote; returns literal parts and holes."""
    parts: list[str | InterpHole] = []
    buf: list[str] = []
    j = i + 1
    n = len(text)
    while True:
        if j >= n:
            raise ExpressionSyntaxError("Unterminated interpolated string", i)
        c = text[j]
        if c == '"':
            if verbatim and text[j + 1 : j + 2] == '"':
                buf.append('"')
                j += 2
                continue
            if buf:
                parts.append("".join(buf))
            return tuple(parts), j + 1
        if c == "{":
            if text[j + 1 : j + 2] == "{":
                buf.append("{")
                j += 2
                continue
            if buf:
                parts.append("".join(buf))
                buf = []
            start = j + 1
            depth = 0
            k = start
            fmt_at = -1
            while True:
                if k >= n:
                    raise ExpressionSyntaxError("Unterminated interpolation hole", j)
                ch = text[k]
                if ch == '"':
                    _, k = _read_string(text, k, verbatim=False)
                    continue
                if ch == "'":
                    k = _skip_char(text, k)
                    continue
                if ch in "([{":
                    depth += 1
                elif ch in ")]}":
                    if depth == 0:
                        if ch != "}":
                            raise ExpressionSyntaxError(f"Unexpected '{ch}' in interpolation hole", k)
                        break
                    depth -= 1
                elif ch == ":" and depth == 0 and fmt_at < 0:
                    fmt_at = k  # as in C#, a top-level ':' starts the format (parenthesise a ?:)
                k += 1
            if fmt_at >= 0:
                src, fmt = text[start:fmt_at], text[fmt_at + 1 : k]
            else:
                src, fmt = text[start:k], None
            if not src.strip():
                raise ExpressionSyntaxError("Empty interpolation hole", j)
            parts.append(InterpHole(src, start, fmt))
            j = k + 1
            continue
        if c == "}":
            if text[j + 1 : j + 2] == "}":
                buf.append("}")
                j += 2
                continue
            raise ExpressionSyntaxError(
                "A '}' character must be escaped (by doubling) in an interpolated string", j
            )
        if c == "\\" and not verbatim:
            ch, j = _escape(text, j)
            buf.append(ch)
            continue
        buf.append(c)
        j += 1


def _skip_char(text: str, i: int) -> int:
    _, j = _read_char(text, i)
    return j


def _read_char(text: str, i: int) -> tuple[str, int]:
    j = i + 1
    if j >= len(text):
        raise ExpressionSyntaxError("Unterminated character literal", i)
    if text[j] == "\\":
        ch, j = _escape(text, j)
    else:
        ch, j = text[j], j + 1
    if text[j : j + 1] != "'":
        raise ExpressionSyntaxError("Too many characters in character literal", i)
    return ch, j + 1


def _read_number(text: str, i: int) -> tuple[int | float, int, bool]:
    """Returns (value, next index, is_floating)."""
    j = i
    n = len(text)
    if text.startswith(("0x", "0X"), i):
        j = i + 2
        while j < n and (text[j] in "0123456789abcdefABCDEF_"):
            j += 1
        digits = text[i + 2 : j].replace("_", "")
        if not digits:
            raise ExpressionSyntaxError("Invalid hexadecimal literal", i)
        while j < n and text[j] in "uUlL":
            j += 1
        return int(digits, 16), j, False
    while j < n and (text[j].isdigit() or text[j] == "_"):
        j += 1
    floating = False
    if j + 1 < n and text[j] == "." and text[j + 1].isdigit():
        floating = True
        j += 1
        while j < n and (text[j].isdigit() or text[j] == "_"):
            j += 1
    if j < n and text[j] in "eE":
        k = j + 1
        if k < n and text[k] in "+-":
            k += 1
        if k < n and text[k].isdigit():
            floating = True
            j = k
            while j < n and text[j].isdigit():
                j += 1
    lit = text[i:j].replace("_", "")
    if j < n and text[j] in "dDfFmM":
        floating = True
        j += 1
    elif j < n and text[j] in "uUlL":
        while j < n and text[j] in "uUlL":
            j += 1
    if j < n and (text[j].isalnum() or text[j] == "_"):
        raise ExpressionSyntaxError(f"Invalid numeric literal '{text[i : j + 1]}'", i)
    return (float(lit) if floating else int(lit)), j, floating


def _is_space(c: str) -> bool:
    """C# whitespace beyond ASCII: any Unicode space separator (Zs: a non-breaking space pasted
    from a web page, an em space, ...) and the line/paragraph separators (C# spec, lexical
    structure: whitespace and new-line characters)."""
    return unicodedata.category(c) == "Zs" or c in "\u2028\u2029\u0085"


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        if len(tokens) > MAX_TOKENS:
            raise ExpressionSyntaxError("Expression is too long", i)
        c = text[i]
        if c in " \t\r\n\f\v" or (c > "\x7f" and _is_space(c)):
            i += 1
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ExpressionSyntaxError("Unterminated comment", i)
            i = end + 2
            continue
        if c.isalpha() or c == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(Token(Tok.IDENT, text[i:j], i, text[i:j]))
            i = j
            continue
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            value, j, floating = _read_number(text, i)
            tokens.append(Token(Tok.NUMBER, value, i, "double" if floating else "int"))
            i = j
            continue
        if c == '"':
            s, j = _read_string(text, i, verbatim=False)
            tokens.append(Token(Tok.STRING, s, i))
            i = j
            continue
        if c == "@" and text[i + 1 : i + 2] == '"':
            s, j = _read_string(text, i + 1, verbatim=True)
            tokens.append(Token(Tok.STRING, s, i))
            i = j
            continue
        if c == "$" or (c == "@" and text[i + 1 : i + 2] == "$"):
            prefix = text[i : i + 3]
            if prefix.startswith(("$@", "@$")) and text[i + 2 : i + 3] == '"':
                parts, j = _read_interpolated(text, i + 2, verbatim=True)
            elif text[i + 1 : i + 2] == '"':
                parts, j = _read_interpolated(text, i + 1, verbatim=False)
            else:
                raise ExpressionSyntaxError(f"Unexpected character '{c}'", i)
            tokens.append(Token(Tok.INTERP, parts, i))
            i = j
            continue
        if c == "'":
            ch, j = _read_char(text, i)
            tokens.append(Token(Tok.CHAR, ch, i))
            i = j
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                tokens.append(Token(Tok.OP, op, i, op))
                i += len(op)
                break
        else:
            raise ExpressionSyntaxError(f"Unexpected character '{c}'", i)
    tokens.append(Token(Tok.EOF, "", n))
    return tokens
