"""OData query options as Microsoft Graph applies them: ``$filter``, ``$select`` (pure).

``compile_filter`` turns a ``$filter`` expression into a predicate over a Graph JSON object.
Supported (what the lab and its tests use): ``eq`` / ``ne`` / ``ge`` / ``le`` / ``gt`` / ``lt``
on property paths (``appId``, ``api/requestedAccessTokenVersion``) against strings, numbers,
booleans and ``null``; ``startswith`` / ``endswith``; lambda ``any`` / ``all`` over collections
(``tags/any(t:t eq 'prmlab-lab:demo')``); ``and`` / ``or`` / ``not`` and parentheses.
String comparisons ignore case, as Graph's do for directory objects. Anything else raises
``FilterError`` (Graph answers 400 ``Request_UnsupportedQuery``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Predicate = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]  # (entity, lambda env) -> bool

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)(?![\w-])|(?P<name>[A-Za-z_$@][\w./$@-]*)|(?P<punct>[(),:]))"
)
_COMPARE = {"eq", "ne", "ge", "le", "gt", "lt"}


class FilterError(ValueError):
    """The ``$filter`` is malformed or uses something not supported."""


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # str | num | name | punct
    text: str


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise FilterError(f"Invalid filter clause near '{text[pos : pos + 20]}'.")
        kind = m.lastgroup or ""
        out.append(_Tok(kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _norm(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _resolve(path: str, entity: Mapping[str, Any], env: Mapping[str, Any]) -> Any:
    parts = path.split("/")
    if parts[0] in env:
        node: Any = env[parts[0]]
        parts = parts[1:]
    else:
        node = entity
    for part in parts:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _compare(op: str, left: Any, right: Any) -> bool:
    a, b = _norm(left), _norm(right)
    if op == "eq":
        return bool(a == b)
    if op == "ne":
        return bool(a != b)
    if a is None or b is None:
        return False
    try:
        return bool({"ge": a >= b, "le": a <= b, "gt": a > b, "lt": a < b}[op])
    except TypeError:
        return False


class _Parser:
    def __init__(self, tokens: Sequence[_Tok]) -> None:
        self.toks = list(tokens)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, text: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None or (text is not None and tok.text.lower() != text):
            raise FilterError(f"Invalid filter clause: expected '{text or 'more'}'.")
        self.i += 1
        return tok

    def at(self, text: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind in ("name", "punct") and tok.text.lower() == text

    def expr(self) -> Predicate:
        left = self.and_expr()
        while self.at("or"):
            self.take()
            right = self.and_expr()
            left = (lambda a, b: lambda e, v: a(e, v) or b(e, v))(left, right)
        return left

    def and_expr(self) -> Predicate:
        left = self.unary()
        while self.at("and"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda e, v: a(e, v) and b(e, v))(left, right)
        return left

    def unary(self) -> Predicate:
        if self.at("not"):
            self.take()
            inner = self.unary()
            return lambda e, v: not inner(e, v)
        return self.primary()

    def literal(self) -> Any:
        tok = self.take()
        if tok.kind == "str":
            return tok.text[1:-1].replace("''", "'")
        if tok.kind == "num":
            return float(tok.text) if "." in tok.text else int(tok.text)
        if tok.kind == "name" and tok.text.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[tok.text.lower()]
        raise FilterError(f"Invalid literal '{tok.text}'.")

    def primary(self) -> Predicate:
        tok = self.peek()
        if tok is None:
            raise FilterError("Empty filter clause.")
        if tok.text == "(":
            self.take("(")
            inner = self.expr()
            self.take(")")
            return inner
        if tok.kind != "name":
            raise FilterError(f"Unexpected '{tok.text}' in filter.")
        self.take()
        name = tok.text
        lowered = name.lower()
        if lowered in ("startswith", "endswith") and self.at("("):
            self.take("(")
            path = self.take().text
            self.take(",")
            value = self.literal()
            self.take(")")
            if not isinstance(value, str):
                raise FilterError(f"{name} needs a string.")
            want = value.lower()
            if lowered == "startswith":
                return lambda e, v: str(_resolve(path, e, v) or "").lower().startswith(want)
            return lambda e, v: str(_resolve(path, e, v) or "").lower().endswith(want)
        for quant in ("/any", "/all"):
            if lowered.endswith(quant) and self.at("("):
                coll_path = name[: -len(quant)]
                self.take("(")
                var = self.take().text
                self.take(":")
                body = self.expr()
                self.take(")")
                is_any = quant == "/any"

                def lam(
                    e: Mapping[str, Any],
                    v: Mapping[str, Any],
                    coll_path: str = coll_path,
                    var: str = var,
                    body: Predicate = body,
                    is_any: bool = is_any,
                ) -> bool:
                    items = _resolve(coll_path, e, v) or []
                    if not isinstance(items, list):
                        return False
                    results = (body(e, {**v, var: item}) for item in items)
                    return any(results) if is_any else all(results)

                return lam
        op_tok = self.take()
        op = op_tok.text.lower()
        if op not in _COMPARE:
            raise FilterError(f"Unsupported operator '{op_tok.text}'.")
        value = self.literal()
        return lambda e, v: _compare(op, _resolve(name, e, v), value)


def compile_filter(text: str) -> Callable[[Mapping[str, Any]], bool]:
    parser = _Parser(_tokens(text))
    pred = parser.expr()
    if parser.peek() is not None:
        raise FilterError(f"Unexpected '{parser.peek().text}' in filter.")  # type: ignore[union-attr]
    return lambda entity: pred(entity, {})


def select(entity: Mapping[str, Any], fields: str | None) -> dict[str, Any]:
    """``$select=a,b``: only those top-level properties (case-insensitive names)."""
    if not fields:
        return dict(entity)
    wanted = {f.strip().lower() for f in fields.split(",") if f.strip()}
    return {k: v for k, v in entity.items() if k.lower() in wanted or k.startswith("@odata.")}
