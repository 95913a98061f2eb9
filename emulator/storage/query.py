"""``$filter``, ``$select``, ``$top`` and continuation tokens of Query Entities (pure).

Where it sits: ``emulator.storage.service`` answers ``GET <table>()`` with ``page(...)``.

``$filter`` supported: comparisons ``<property> eq|ne|gt|ge|lt|le <literal>`` (either side may be
the property), joined with ``and`` / ``or`` / ``not`` and parentheses. Literals: ``'text'`` (``''``
escapes a quote), integers (``12``, Int64 ``12L``), decimals (``1.5``, ``2e3``), ``true``/``false``,
``datetime'2024-01-01T00:00:00Z'``, ``guid'…'``, ``X'0aff'`` / ``binary'0aff'``. A property the
entity lacks, or of another type than the literal, makes the comparison false (as the service
does). Anything else (arithmetic, functions) is 400 ``InvalidInput``.

Order is PartitionKey, then RowKey (ordinal). A page holds ``$top`` entities (default and cap
1000); when more match, ``x-ms-continuation-NextPartitionKey`` / ``NextRowKey`` name the next one
(opaque ``1!<n>!<base64>`` tokens, as Azure's look).
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from emulator.storage.entities import Entity, parse_datetime
from emulator.storage.errors import invalid_input

MAX_PAGE = 1000

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<lparen>\()|(?P<rparen>\))"
    r"|(?P<typed>(?:datetime|guid|X|binary)'(?:[^']|'')*')"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[LlDdMm]?)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r")"
)
_OPS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_NUMERIC = frozenset({"Edm.Int32", "Edm.Int64", "Edm.Double"})

Predicate = Callable[[Entity], bool]


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class _Literal:
    edm: str
    value: Any


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise invalid_input(f"The $filter is not valid near '{text[pos : pos + 20]}'.")
        kind = m.lastgroup or ""
        out.append(_Tok(kind, m.group(kind)))
        pos = m.end()
    return out


def _literal(tok: _Tok) -> _Literal | None:
    bad = invalid_input(f"The literal {tok.text} in the $filter is not valid.")
    if tok.kind == "string":
        return _Literal("Edm.String", tok.text[1:-1].replace("''", "'"))
    if tok.kind == "number":
        text = tok.text
        try:
            if text[-1] in "Ll":
                return _Literal("Edm.Int64", int(text[:-1]))
            if text[-1] in "DdMm" or any(c in text for c in ".eE"):
                return _Literal("Edm.Double", float(text.rstrip("DdMm")))
            return _Literal("Edm.Int32", int(text))
        except ValueError as exc:
            raise bad from exc
    if tok.kind == "word" and tok.text in ("true", "false"):
        return _Literal("Edm.Boolean", tok.text == "true")
    if tok.kind == "typed":
        prefix, _, rest = tok.text.partition("'")
        inner = rest[:-1].replace("''", "'")
        try:
            if prefix == "datetime":
                return _Literal("Edm.DateTime", parse_datetime(inner))
            if prefix == "guid":
                return _Literal("Edm.Guid", str(uuid.UUID(inner)).lower())
            return _Literal("Edm.Binary", bytes.fromhex(inner))
        except ValueError as exc:
            raise bad from exc
    return None


def _compare(op: str, left: tuple[str, Any], right: tuple[str, Any]) -> bool:
    (lt, lv), (rt, rv) = left, right
    if lt in _NUMERIC and rt in _NUMERIC:
        if "Edm.Double" in (lt, rt):
            lv, rv = float(lv), float(rv)
    elif lt != rt:
        return False
    if op in ("eq", "ne"):
        return bool(lv == rv) == (op == "eq")
    if lt in ("Edm.Boolean", "Edm.Guid", "Edm.Binary"):
        return False
    try:
        if op == "gt":
            return bool(lv > rv)
        if op == "ge":
            return bool(lv >= rv)
        if op == "lt":
            return bool(lv < rv)
        return bool(lv <= rv)
    except TypeError:
        return False


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.toks = tokens
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise invalid_input("The $filter ends too early.")
        self.i += 1
        return tok

    def is_word(self, word: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "word" and tok.text.lower() == word

    def parse(self) -> Predicate:
        pred = self.or_()
        if self.peek() is not None:
            raise invalid_input(f"Unexpected '{self.peek().text}' in the $filter.")  # type: ignore[union-attr]
        return pred

    def or_(self) -> Predicate:
        parts = [self.and_()]
        while self.is_word("or"):
            self.take()
            parts.append(self.and_())
        if len(parts) == 1:
            return parts[0]
        return lambda e: any(p(e) for p in parts)

    def and_(self) -> Predicate:
        parts = [self.not_()]
        while self.is_word("and"):
            self.take()
            parts.append(self.not_())
        if len(parts) == 1:
            return parts[0]
        return lambda e: all(p(e) for p in parts)

    def not_(self) -> Predicate:
        if self.is_word("not"):
            self.take()
            inner = self.not_()
            return lambda e: not inner(e)
        tok = self.peek()
        if tok is not None and tok.kind == "lparen":
            self.take()
            inner = self.or_()
            if self.take().kind != "rparen":
                raise invalid_input("A ')' is missing in the $filter.")
            return inner
        return self.comparison()

    def operand(self) -> _Literal | str:
        tok = self.take()
        lit = _literal(tok)
        if lit is not None:
            return lit
        if tok.kind == "word" and tok.text.lower() not in _OPS | {"and", "or", "not"}:
            return tok.text
        raise invalid_input(f"Unexpected '{tok.text}' in the $filter.")

    def comparison(self) -> Predicate:
        left = self.operand()
        op_tok = self.take()
        op = op_tok.text.lower()
        if op_tok.kind != "word" or op not in _OPS:
            raise invalid_input(f"'{op_tok.text}' is not a supported operator in the $filter.")
        right = self.operand()
        if isinstance(left, str) and isinstance(right, _Literal):
            name, lit, flipped = left, right, False
        elif isinstance(right, str) and isinstance(left, _Literal):
            name, lit, flipped = right, left, True
        else:
            raise invalid_input("Each $filter comparison needs one property and one literal.")
        swap = {"gt": "lt", "lt": "gt", "ge": "le", "le": "ge"}
        real_op = swap.get(op, op) if flipped else op
        wanted = (lit.edm, lit.value)

        def pred(entity: Entity) -> bool:
            have = entity.typed(name)
            return have is not None and _compare(real_op, have, wanted)

        return pred


def compile_filter(text: str | None) -> Predicate:
    if text is None or not text.strip():
        return lambda e: True
    return _Parser(_tokens(text)).parse()


def parse_select(text: str | None) -> list[str] | None:
    if text is None or not text.strip():
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if any(not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in names):
        raise invalid_input("The $select is not valid.")
    return names


def parse_top(text: str | None) -> int:
    if text is None:
        return MAX_PAGE
    try:
        top = int(text)
    except ValueError as exc:
        raise invalid_input("The $top must be a positive integer.") from exc
    if top < 1:
        raise invalid_input("The $top must be a positive integer.")
    return min(top, MAX_PAGE)


def encode_token(key: str) -> str:
    b64 = base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii")
    return f"1!{len(b64)}!{b64}"


def decode_token(token: str) -> str:
    parts = token.split("!", 2)
    try:
        if len(parts) != 3 or parts[0] != "1" or int(parts[1]) != len(parts[2]):
            raise ValueError(token)
        return base64.urlsafe_b64decode(parts[2].encode("ascii")).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise invalid_input("The continuation token is not valid.") from exc


@dataclass(frozen=True, slots=True)
class Page:
    entities: list[Entity]
    next_keys: tuple[str, str] | None


def page(
    entities: Iterable[Entity],
    predicate: Predicate,
    top: int,
    next_pk: str | None,
    next_rk: str | None,
) -> Page:
    ordered = sorted(entities, key=lambda e: (e.partition_key, e.row_key))
    start: tuple[str, str] | None = None
    if next_pk is not None:
        start = (decode_token(next_pk), decode_token(next_rk) if next_rk else "")
    out: list[Entity] = []
    for entity in ordered:
        if start is not None and (entity.partition_key, entity.row_key) < start:
            continue
        if not predicate(entity):
            continue
        if len(out) == top:
            return Page(out, (entity.partition_key, entity.row_key))
        out.append(entity)
    return Page(out, None)
