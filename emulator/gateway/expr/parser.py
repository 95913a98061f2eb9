"""Parser of the C# policy-expression subset (second stage: tokens -> ``expr.ast``).

Grammar (precedence low to high): lambda, ``?:``, ``??``, ``||``, ``&&``, ``|``, ``^``, ``&``,
equality, relational / ``is`` / ``as``, additive, multiplicative, unary (incl. casts),
postfix (member access, ``?.``, calls with generic arguments, indexers), ``throw`` expressions,
``unchecked(...)``. Statement blocks (``@{...}``) are ``expr.statements``. Anything outside the
subset raises ``ExpressionSyntaxError`` naming the construct.
"""

from __future__ import annotations

from collections.abc import Callable

from emulator.gateway.expr import ast
from emulator.gateway.expr.lexer import ExpressionSyntaxError, InterpHole, Tok, Token
from emulator.gateway.expr.statements import Statements
from emulator.gateway.expr.values import Char
from emulator.gateway.expr.words import (
    KNOWN_TYPES,
    LITERAL_WORDS,
    NAMESPACES,
    NOT_ALLOWED_TYPES,
    TYPE_WORDS,
    UNSUPPORTED_WORDS,
    not_allowed,
)

_ASSIGN_OPS = frozenset({"=", "+=", "-=", "*=", "/=", "%=", "??="})
_CAST_FOLLOW_OPS = frozenset({"(", "!", "~"})


class Parser(Statements):
    """Recursive descent over the tokens (``Cursor``) of one expression or statement block."""

    # ---- entry points -----------------------------------------------------------------------
    def parse_policy_expression(self) -> ast.Node:
        """``(expr)`` or ``{ statements }`` — the text after ``@``."""
        if self.is_op("{"):
            node: ast.Node = self.parse_block()
        elif self.is_op("("):
            start = self.advance()
            node = self.parse_expression()
            self.expect_op(")")
            node = _reposition(node, self.pos(start))
        else:
            raise self.error("A policy expression starts with '@(' or '@{'")
        if self.tok.kind is not Tok.EOF:
            raise self.error(f"Unexpected {self._describe(self.tok)} after the end of the expression")
        return node

    # ---- types ------------------------------------------------------------------------------
    def parse_type(self) -> ast.TypeRef:
        name = self.expect_ident()
        while self.is_op(".") and self.peek().kind is Tok.IDENT and name in NAMESPACES:
            self.advance()
            name = name + "." + str(self.advance().value)
        if name in NAMESPACES:
            raise self.error(f"Type name expected after namespace '{name}'")
        short = name.rsplit(".", 1)[-1]
        args: tuple[ast.TypeRef, ...] = ()
        if self.is_op("<"):
            self.advance()
            items = [self.parse_type()]
            while self.is_op(","):
                self.advance()
                items.append(self.parse_type())
            self.expect_op(">")
            args = tuple(items)
        array = False
        nullable = False
        if self.is_op("?"):
            # ``int?`` only when it cannot be a conditional (``x is int ? a : b`` stays a conditional)
            nxt = self.peek()
            if (nxt.kind is Tok.OP and nxt.value in (")", ">", ",", "[")) or (
                nxt.kind is Tok.IDENT and self.peek(2).kind is Tok.OP and self.peek(2).value in ("=", ";")
            ):
                self.advance()
                nullable = True
        if self.is_op("[") and self.is_op("]", self.peek()):
            self.advance()
            self.advance()
            array = True
        return ast.TypeRef(short, args, array, nullable)

    def _try_type_args(self) -> tuple[ast.TypeRef, ...] | None:
        """``<T, U>`` directly followed by ``(`` — otherwise not type arguments (backtrack)."""
        save = self.i
        try:
            self.expect_op("<")
            items = [self.parse_type()]
            while self.is_op(","):
                self.advance()
                items.append(self.parse_type())
            self.expect_op(">")
        except ExpressionSyntaxError:
            self.i = save
            return None
        if self.is_op("("):
            return tuple(items)
        self.i = save
        return None

    # ---- expressions ------------------------------------------------------------------------
    def parse_expression(self, allow_assignment: bool = False) -> ast.Node:
        self.nest()
        try:
            lam = self._try_lambda()
            if lam is not None:
                return lam
            left = self.parse_conditional()
            if self.tok.kind is Tok.OP and self.tok.value in _ASSIGN_OPS:
                op_tok = self.advance()
                if not allow_assignment:
                    # assignments inside expressions are legal C#, but keep them to statements
                    raise self.error(
                        "Assignments are supported only as statements in a policy expression", op_tok
                    )
                if not isinstance(left, ast.Name | ast.Member | ast.Index):
                    raise self.error(
                        "The left-hand side of an assignment must be a variable, property or indexer", op_tok
                    )
                value = self.parse_expression()
                return ast.Assign(self.pos(op_tok), str(op_tok.value), left, value)
            return left
        finally:
            self.depth -= 1

    def _try_lambda(self) -> ast.Node | None:
        t = self.tok
        params: list[str] | None = None
        if t.kind is Tok.IDENT and self.is_op("=>", self.peek()) and t.value not in LITERAL_WORDS:
            params = [str(t.value)]
            self.i += 2
        elif self.is_op("("):
            j = self.i + 1
            names: list[str] = []
            ok = True
            if not self.is_op(")", self.toks[j]):
                while True:
                    tk = self.toks[j]
                    if tk.kind is not Tok.IDENT:
                        ok = False
                        break
                    names.append(str(tk.value))
                    j += 1
                    if self.is_op(",", self.toks[j]):
                        j += 1
                        continue
                    break
            if (
                ok
                and self.is_op(")", self.toks[j])
                and self.is_op("=>", self.toks[min(j + 1, len(self.toks) - 1)])
            ):
                params = names
                self.i = j + 2
        if params is None:
            return None
        body = self.parse_block() if self.is_op("{") else self.parse_expression()
        return ast.Lambda(self.pos(t), tuple(params), body)

    def parse_conditional(self) -> ast.Node:
        cond = self.parse_coalesce()
        if self.is_op("?"):
            q = self.advance()
            then = self.parse_expression()
            self.expect_op(":")
            otherwise = self.parse_expression()
            return ast.Conditional(self.pos(q), cond, then, otherwise)
        return cond

    def parse_coalesce(self) -> ast.Node:
        left = self.parse_binary(0)
        if self.is_op("??"):
            op = self.advance()
            right = self.parse_coalesce()
            return ast.Binary(self.pos(op), "??", left, right)
        return left

    _LEVELS: tuple[frozenset[str], ...] = (
        frozenset({"||"}),
        frozenset({"&&"}),
        frozenset({"|"}),
        frozenset({"^"}),
        frozenset({"&"}),
        frozenset({"==", "!="}),
        frozenset({"<", ">", "<=", ">="}),
        frozenset({"+", "-"}),
        frozenset({"*", "/", "%"}),
    )

    def parse_binary(self, level: int) -> ast.Node:
        if level == len(self._LEVELS):
            return self.parse_unary()
        ops = self._LEVELS[level]
        left = self.parse_binary(level + 1)
        while True:
            t = self.tok
            if t.kind is Tok.OP and t.value in ops:
                self.advance()
                right = self.parse_binary(level + 1)
                left = ast.Binary(self.pos(t), str(t.value), left, right)
            elif level == 6 and t.kind is Tok.IDENT and t.value in ("is", "as"):
                self.advance()
                if self.is_word("null"):
                    null_tok = self.advance()
                    if t.value == "as":
                        raise self.error("'as null' is not valid", null_tok)
                    left = ast.Binary(self.pos(t), "==", left, ast.Literal(self.pos(null_tok), None))
                elif self.is_word("not") and self.is_word("null", self.peek()):
                    self.advance()
                    null_tok = self.advance()
                    left = ast.Binary(self.pos(t), "!=", left, ast.Literal(self.pos(null_tok), None))
                else:
                    left = ast.TypeTest(self.pos(t), str(t.value), left, self.parse_type())
            else:
                return left

    def parse_unary(self) -> ast.Node:
        t = self.tok
        if t.kind is Tok.OP and t.value in ("!", "-", "+", "~"):
            self.advance()
            self.nest()
            operand = self.parse_unary()
            self.depth -= 1
            return ast.Unary(self.pos(t), str(t.value), operand)
        if t.kind is Tok.OP and t.value in ("++", "--"):
            self.advance()
            target = self.parse_unary()
            return ast.Assign(self.pos(t), str(t.value), target, None)
        if self.is_op("("):
            cast = self._try_cast()
            if cast is not None:
                return cast
        return self.parse_postfix(self.parse_primary())

    def _try_cast(self) -> ast.Node | None:
        nxt = self.peek()
        if nxt.kind is not Tok.IDENT or not (nxt.value in TYPE_WORDS or nxt.value in NAMESPACES):
            return None
        save = self.i
        start = self.advance()
        try:
            type_ = self.parse_type()
        except ExpressionSyntaxError:
            self.i = save
            return None
        if not self.is_op(")"):
            self.i = save
            return None
        after = self.peek()
        starts_operand = (
            after.kind in (Tok.IDENT, Tok.NUMBER, Tok.STRING, Tok.CHAR, Tok.INTERP)
            or (after.kind is Tok.OP and after.value in _CAST_FOLLOW_OPS)
            or (after.kind is Tok.OP and after.value in ("-", "+") and type_.name[:1].islower())
        )
        if not starts_operand or (after.kind is Tok.IDENT and after.value in ("is", "as")):
            self.i = save
            return None
        self.advance()
        self.nest()
        operand = self.parse_unary()
        self.depth -= 1
        return ast.Cast(self.pos(start), type_, operand)

    def parse_primary(self) -> ast.Node:
        t = self.tok
        if t.kind is Tok.NUMBER:
            self.advance()
            return ast.Literal(self.pos(t), t.value)
        if t.kind is Tok.STRING:
            self.advance()
            return ast.Literal(self.pos(t), t.value)
        if t.kind is Tok.CHAR:
            self.advance()
            return ast.Literal(self.pos(t), Char(str(t.value)))
        if t.kind is Tok.INTERP:
            self.advance()
            return self._interpolated(t)
        if self.is_op("("):
            self.advance()
            expr = self.parse_expression()
            self.expect_op(")")
            return expr
        if t.kind is Tok.IDENT:
            word = str(t.value)
            if word in LITERAL_WORDS:
                self.advance()
                return ast.Literal(self.pos(t), LITERAL_WORDS[word])
            if word == "throw":  # a throw expression (``x ?? throw new Exception("...")``)
                self.advance()
                return ast.Throw(self.pos(t), self.parse_expression())
            if word == "unchecked" and self.is_op("(", self.peek()):
                self.advance()  # C#'s default for non-constant arithmetic: no overflow checks
                self.advance()
                inner = self.parse_expression()
                self.expect_op(")")
                return inner
            if word in UNSUPPORTED_WORDS:
                raise self.error(f"The '{word}' keyword is not supported by the local gateway")
            if word == "new":
                return self._new()
            if (
                word in NAMESPACES
                or (word in KNOWN_TYPES and not self.is_op("=>", self.peek()))
                or (word in NOT_ALLOWED_TYPES and self.is_op(".", self.peek()))
            ):
                return self._type_in_expression()
            self.advance()
            if self.is_op("<"):
                targs = self._try_type_args()
                if targs is not None:
                    args = self._arguments()
                    return ast.Call(self.pos(t), ast.Name(self.pos(t), word), args, targs)
            return ast.Name(self.pos(t), word)
        raise self.error(f"Unexpected {self._describe(t)}")

    def _type_in_expression(self) -> ast.Node:
        t = self.tok
        name = str(self.advance().value)
        while name in NAMESPACES and self.is_op(".") and self.peek().kind is Tok.IDENT:
            self.advance()
            name = name + "." + str(self.advance().value)
        if name in NAMESPACES:
            raise self.error(f"The namespace '{name}' cannot be used as a value", t)
        short = name.rsplit(".", 1)[-1]
        refusal = not_allowed(name)
        if refusal is not None:
            raise self.error(refusal, t)
        if short not in KNOWN_TYPES:
            raise self.error(f"The type '{name}' is not supported by the local gateway", t)
        return ast.TypeName(self.pos(t), ast.TypeRef(short))

    def _new(self) -> ast.Node:
        t = self.advance()
        if self.is_op("{"):
            return self._anonymous(t)
        if self.is_op("["):
            self.advance()
            self.expect_op("]")
            elements = self._initializer()
            return ast.New(self.pos(t), ast.TypeRef("object", array=True), (), elements)
        type_ = self.parse_type()
        args: tuple[ast.Argument, ...] = ()
        items: tuple[ast.Node, ...] | None = None
        if self.is_op("[") and not type_.array:
            self.advance()
            size = self.parse_expression()
            self.expect_op("]")
            array_type = ast.TypeRef(type_.name, type_.args, True)
            return ast.New(self.pos(t), array_type, (ast.Argument(size),), None)
        if self.is_op("("):
            args = self._arguments()
        elif not self.is_op("{"):
            raise self.error("'(' or '{' expected after the type in a 'new' expression")
        if self.is_op("{"):
            items = self._initializer()
        return ast.New(self.pos(t), type_, args, items)

    def _anonymous(self, t: Token) -> ast.Node:
        self.expect_op("{")

        def member() -> ast.Node:
            if self.tok.kind is Tok.IDENT and self.is_op("=", self.peek()):
                name_tok = self.advance()
                self.advance()
                value = self.parse_expression()
                target = ast.Name(self.pos(name_tok), str(name_tok.value))
                return ast.Assign(self.pos(name_tok), "=", target, value)
            return self.parse_expression()

        items = self._until_close_brace(member, "an anonymous object")
        return ast.New(self.pos(t), ast.TypeRef("<anonymous>"), (), tuple(items))

    def _initializer(self) -> tuple[ast.Node, ...]:
        """Collection (``{a, b}``, ``{ {k, v} }``), object (``{ Key = v }``) and index
        (``{ ["k"] = v }``) initializers."""
        self.expect_op("{")

        def item() -> ast.Node:
            if self.is_op("{"):
                brace = self.tok
                pair = self._initializer()
                return ast.New(self.pos(brace), ast.TypeRef("object", array=True), (), pair)
            if self.tok.kind is Tok.IDENT and self.is_op("=", self.peek()):
                name_tok = self.advance()
                self.advance()
                return ast.Init(self.pos(name_tok), str(name_tok.value), None, self.parse_expression())
            if self.is_op("["):
                open_tok = self.advance()
                index = self.parse_expression()
                self.expect_op("]")
                self.expect_op("=")
                return ast.Init(self.pos(open_tok), None, index, self.parse_expression())
            return self.parse_expression()

        return tuple(self._until_close_brace(item, "an initializer"))

    def _until_close_brace(self, item: Callable[[], ast.Node], where: str) -> list[ast.Node]:
        """Comma-separated ``item``s up to and including the closing ``}``."""
        items: list[ast.Node] = []
        while not self.is_op("}"):
            items.append(item())
            if self.is_op(","):
                self.advance()
                continue
            if not self.is_op("}"):
                raise self.error(f"',' or '}}' expected in {where}")
        self.advance()
        return items

    def _arguments(self) -> tuple[ast.Argument, ...]:
        self.expect_op("(")
        args: list[ast.Argument] = []
        while not self.is_op(")"):
            if self.tok.kind is Tok.EOF:
                raise self.error("')' expected")
            name = None
            if self.tok.kind is Tok.IDENT and self.is_op(":", self.peek()):
                name = str(self.advance().value)
                self.advance()
            if self.is_word("out"):
                out_tok = self.advance()
                declares = False
                if self.is_word("var"):
                    self.advance()
                    declares = True
                elif self.peek().kind is Tok.IDENT:
                    self.parse_type()
                    declares = True
                args.append(ast.Argument(ast.OutVar(self.pos(out_tok), self.expect_ident(), declares), name))
            elif self.is_word("ref") or (self.is_word("in") and self.peek().kind is Tok.IDENT):
                raise self.error(f"'{self.tok.value}' arguments are not supported by the local gateway")
            else:
                args.append(ast.Argument(self.parse_expression(), name))
            if self.is_op(","):
                self.advance()
                continue
            if not self.is_op(")"):
                raise self.error(f"',' or ')' expected, found {self._describe(self.tok)}")
        self.advance()
        return tuple(args)

    def parse_postfix(self, node: ast.Node) -> ast.Node:
        steps = 0
        while True:
            steps += 1
            if steps > 500:
                raise self.error("Expression is too long")
            t = self.tok
            if self.is_op(".") or self.is_op("?."):
                self.advance()
                name_tok = self.tok
                name = self.expect_ident()
                member = ast.Member(self.pos(name_tok), node, name, t.value == "?.")
                if self.is_op("<"):
                    targs = self._try_type_args()
                    if targs is not None:
                        node = ast.Call(self.pos(name_tok), member, self._arguments(), targs)
                        continue
                node = member
            elif self.is_op("("):
                if not isinstance(node, ast.Name | ast.Member):
                    raise self.error("Only methods can be invoked", t)
                node = ast.Call(node.pos, node, self._arguments())
            elif self.is_op("[") or self.is_op("?["):
                self.advance()
                index = self.parse_expression()
                self.expect_op("]")
                node = ast.Index(self.pos(t), node, index, t.value == "?[")
            elif t.kind is Tok.OP and t.value in ("++", "--"):
                self.advance()
                node = ast.Assign(self.pos(t), str(t.value), node, None)
            elif self.is_op("!") and self.peek().kind is Tok.OP and self.peek().value in (".", ")", ";", "["):
                self.advance()  # null-forgiving operator: no runtime effect
            else:
                return node

    def _interpolated(self, t: Token) -> ast.Node:
        parts: list[str | tuple[ast.Node, str | None]] = []
        assert isinstance(t.value, tuple)
        for part in t.value:
            if isinstance(part, InterpHole):
                sub = Parser(part.source, self.offset + part.offset, self.depth + 1)
                expr = sub.parse_expression()
                if sub.tok.kind is not Tok.EOF:
                    raise sub.error(f"Unexpected {sub._describe(sub.tok)} in interpolation hole")
                parts.append((expr, part.fmt))
            else:
                parts.append(str(part))
        return ast.Interpolated(self.pos(t), tuple(parts))


def _reposition(node: ast.Node, pos: int) -> ast.Node:
    return node


def parse_policy_expression(text: str) -> ast.Node:
    """Parse the text following ``@`` in a policy value (``(expr)`` or ``{stmts}``)."""
    try:
        return Parser(text).parse_policy_expression()
    except RecursionError as exc:
        raise ExpressionSyntaxError("Expression is nested too deeply", 0) from exc
