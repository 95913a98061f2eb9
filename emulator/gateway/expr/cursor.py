"""A cursor over the tokens of one expression (``expr.lexer``), the base of ``expr.parser``.

Look-ahead, expectations with errors at the absolute position in the policy text (``offset``:
where the expression starts), and the nesting budget (``MAX_DEPTH``) that keeps a hostile
expression from exhausting the stack.
"""

from __future__ import annotations

from emulator.gateway.expr.lexer import ExpressionSyntaxError, Tok, Token, tokenize
from emulator.gateway.expr.words import LITERAL_WORDS

MAX_DEPTH = 60


class Cursor:
    """The tokens of ``text`` and the current position in them."""

    def __init__(self, text: str, offset: int = 0, depth: int = 0) -> None:
        self.text = text
        self.offset = offset
        self.toks = tokenize(text)
        self.i = 0
        self.depth = depth

    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k: int = 1) -> Token:
        j = min(self.i + k, len(self.toks) - 1)
        return self.toks[j]

    def error(self, message: str, tok: Token | None = None) -> ExpressionSyntaxError:
        t = tok or self.tok
        return ExpressionSyntaxError(message, self.offset + t.pos)

    def is_op(self, op: str, tok: Token | None = None) -> bool:
        t = tok or self.tok
        return t.kind is Tok.OP and t.value == op

    def is_word(self, word: str, tok: Token | None = None) -> bool:
        t = tok or self.tok
        return t.kind is Tok.IDENT and t.value == word

    def advance(self) -> Token:
        t = self.toks[self.i]
        if t.kind is not Tok.EOF:
            self.i += 1
        return t

    def expect_op(self, op: str) -> Token:
        if not self.is_op(op):
            raise self.error(f"'{op}' expected, found {self._describe(self.tok)}")
        return self.advance()

    def expect_ident(self) -> str:
        if self.tok.kind is not Tok.IDENT or self.tok.value in LITERAL_WORDS:
            raise self.error(f"Identifier expected, found {self._describe(self.tok)}")
        return str(self.advance().value)

    @staticmethod
    def _describe(tok: Token) -> str:
        if tok.kind is Tok.EOF:
            return "end of expression"
        if tok.kind in (Tok.OP, Tok.IDENT):
            return f"'{tok.value}'"
        return str(tok.kind.value)

    def pos(self, tok: Token | None = None) -> int:
        return self.offset + (tok or self.tok).pos

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("Expression is nested too deeply")
