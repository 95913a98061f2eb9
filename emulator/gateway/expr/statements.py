"""Statement grammar of ``@{ ... }`` policy expressions (the base of ``expr.parser``).

C# 7 statements (Learn, "API Management policy expressions": multi-statement expressions are
C# with every code path ending in ``return``): declarations (``var`` and typed), expression
statements, ``if``/``else``, ``foreach``, ``for``, ``while``, ``do``, ``switch`` (constant
labels), ``break``/``continue``/``return``, ``try``/``catch``/``finally``, ``throw``,
``using`` (no resources to release here: a scope), ``unchecked`` blocks (the local gateway's
arithmetic is never checked) and local functions. ``Parser`` (``expr.parser``) adds types and
expressions; what stays outside the subset is refused naming the statement.
"""

from __future__ import annotations

from emulator.gateway.expr import ast
from emulator.gateway.expr.cursor import Cursor
from emulator.gateway.expr.lexer import ExpressionSyntaxError, Tok, Token
from emulator.gateway.expr.words import NAMESPACES, TYPE_WORDS, UNSUPPORTED_STATEMENTS

_STATEMENT_EXPRESSIONS = (ast.Assign, ast.Call, ast.New, ast.Throw)


class Statements(Cursor):
    """Statements over the token cursor; expressions and types come from ``Parser``."""

    # provided by Parser
    def parse_expression(self, allow_assignment: bool = False) -> ast.Node:
        raise NotImplementedError

    def parse_type(self) -> ast.TypeRef:
        raise NotImplementedError

    # ---- blocks -------------------------------------------------------------------------------
    def parse_block(self) -> ast.Block:
        start = self.expect_op("{")
        self.nest()
        stmts: list[ast.Node] = []
        while not self.is_op("}"):
            if self.tok.kind is Tok.EOF:
                raise self.error("'}' expected")
            stmts.append(self.parse_statement())
        self.advance()
        self.depth -= 1
        return ast.Block(self.pos(start), tuple(stmts))

    def parse_embedded(self) -> ast.Node:
        if self.is_op("{"):
            return self.parse_block()
        return self.parse_statement()

    # ---- statements ---------------------------------------------------------------------------
    def parse_statement(self) -> ast.Node:
        t = self.tok
        if self.is_op(";"):
            self.advance()
            return ast.Block(self.pos(t), ())
        if self.is_op("{"):
            return self.parse_block()
        if t.kind is Tok.IDENT:
            word = str(t.value)
            special = self._keyword_statement(word, t)
            if special is not None:
                return special
            if word in UNSUPPORTED_STATEMENTS:
                raise self.error(f"The '{word}' statement is not supported by the local gateway")
            if word == "var" and self.peek().kind is Tok.IDENT:
                self.advance()
                return self._finish_declaration(t, None)
            function = self._try_local_function()
            if function is not None:
                return function
            decl_type = self._try_declaration_type()
            if decl_type is not None:
                return self._finish_declaration(t, decl_type)
        expr = self.parse_expression(allow_assignment=True)
        self.expect_op(";")
        return self._expression_statement(expr)

    def _expression_statement(self, expr: ast.Node) -> ast.Node:
        if not isinstance(expr, _STATEMENT_EXPRESSIONS):
            raise ExpressionSyntaxError(
                "Only assignment, call, increment, decrement and new object expressions can be used as a statement",
                expr.pos,
            )
        return ast.ExprStmt(expr.pos, expr)

    def _keyword_statement(self, word: str, t: Token) -> ast.Node | None:
        if word == "if":
            self.advance()
            cond = self._parenthesised()
            then = self.parse_embedded()
            otherwise = None
            if self.is_word("else"):
                self.advance()
                otherwise = self.parse_embedded()
            return ast.If(self.pos(t), cond, then, otherwise)
        if word == "return":
            self.advance()
            value = None if self.is_op(";") else self.parse_expression()
            self.expect_op(";")
            return ast.Return(self.pos(t), value)
        if word in ("break", "continue"):
            self.advance()
            self.expect_op(";")
            return ast.Jump(self.pos(t), word)
        if word == "throw":
            self.advance()
            value = None if self.is_op(";") else self.parse_expression()
            self.expect_op(";")
            return ast.ExprStmt(self.pos(t), ast.Throw(self.pos(t), value))
        parse = {
            "foreach": self._foreach,
            "for": self._for,
            "while": self._while,
            "do": self._do,
            "switch": self._switch,
            "try": self._try,
            "using": self._using,
        }.get(word)
        if parse is not None:
            return parse(t)
        if word == "unchecked" and self.is_op("{", self.peek()):
            self.advance()  # C#'s default for non-constant arithmetic: no overflow checks
            return self.parse_block()
        return None

    def _parenthesised(self) -> ast.Node:
        self.expect_op("(")
        node = self.parse_expression()
        self.expect_op(")")
        return node

    def _foreach(self, t: Token) -> ast.Node:
        self.advance()
        self.expect_op("(")
        if self.is_word("var"):
            self.advance()
        else:
            self.parse_type()
        ident = self.expect_ident()
        if not self.is_word("in"):
            raise self.error("'in' expected")
        self.advance()
        iterable = self.parse_expression()
        self.expect_op(")")
        body = self.parse_embedded()
        return ast.Foreach(self.pos(t), ident, iterable, body)

    def _for(self, t: Token) -> ast.Node:
        self.advance()
        self.expect_op("(")
        init: tuple[ast.Node, ...] = ()
        if self.is_op(";"):
            self.advance()
        elif self.is_word("var") and self.peek().kind is Tok.IDENT:
            start = self.advance()
            init = (self._finish_declaration(start, None),)
        elif (decl := self._try_declaration_type()) is not None:
            init = (self._finish_declaration(self.tok, decl),)
        else:
            init = self._statement_list(";")
            self.expect_op(";")
        cond = None if self.is_op(";") else self.parse_expression()
        self.expect_op(";")
        step = () if self.is_op(")") else self._statement_list(")")
        self.expect_op(")")
        body = self.parse_embedded()
        return ast.Loop(self.pos(t), "for", init, cond, step, body)

    def _statement_list(self, end: str) -> tuple[ast.Node, ...]:
        items = [self._expression_statement(self.parse_expression(allow_assignment=True))]
        while self.is_op(","):
            self.advance()
            items.append(self._expression_statement(self.parse_expression(allow_assignment=True)))
        if not self.is_op(end):
            raise self.error(f"'{end}' expected")
        return tuple(items)

    def _while(self, t: Token) -> ast.Node:
        self.advance()
        cond = self._parenthesised()
        body = self.parse_embedded()
        return ast.Loop(self.pos(t), "while", (), cond, (), body)

    def _do(self, t: Token) -> ast.Node:
        self.advance()
        body = self.parse_embedded()
        if not self.is_word("while"):
            raise self.error("'while' expected after the body of 'do'")
        self.advance()
        cond = self._parenthesised()
        self.expect_op(";")
        return ast.Loop(self.pos(t), "do", (), cond, (), body)

    def _switch(self, t: Token) -> ast.Node:
        self.advance()
        subject = self._parenthesised()
        self.expect_op("{")
        sections: list[ast.SwitchSection] = []
        while not self.is_op("}"):
            start = self.tok
            labels: list[ast.Node | None] = []
            while self.is_word("case") or self.is_word("default"):
                if self.is_word("default"):
                    self.advance()
                    labels.append(None)
                else:
                    self.advance()
                    labels.append(self.parse_expression())
                    if self.tok.kind is Tok.IDENT or self.is_word("when"):
                        raise self.error("Patterns in 'case' labels are not supported by the local gateway")
                self.expect_op(":")
            if not labels:
                raise self.error("'case' or 'default' expected in a switch block")
            body: list[ast.Node] = []
            while not (self.is_word("case") or self.is_word("default") or self.is_op("}")):
                if self.tok.kind is Tok.EOF:
                    raise self.error("'}' expected")
                body.append(self.parse_statement())
            sections.append(ast.SwitchSection(self.pos(start), tuple(labels), tuple(body)))
        self.advance()
        return ast.Switch(self.pos(t), subject, tuple(sections))

    def _try(self, t: Token) -> ast.Node:
        self.advance()
        body = self.parse_block()
        catches: list[ast.Catch] = []
        while self.is_word("catch"):
            c = self.advance()
            ident = None
            if self.is_op("("):
                self.advance()
                type_tok = self.tok
                type_ = self.parse_type()
                if type_.name != "Exception":
                    raise self.error(
                        f"The type '{type_}' is not allowed in policy expressions by API Management "
                        "(its list of allowed .NET types names System.Exception only)",
                        type_tok,
                    )
                if self.tok.kind is Tok.IDENT:
                    ident = self.expect_ident()
                self.expect_op(")")
            when = None
            if self.is_word("when"):
                self.advance()
                when = self._parenthesised()
            catches.append(ast.Catch(self.pos(c), ident, when, self.parse_block()))
        final = None
        if self.is_word("finally"):
            self.advance()
            final = self.parse_block()
        if not catches and final is None:
            raise self.error("'catch' or 'finally' expected")
        return ast.Try(self.pos(t), body, tuple(catches), final)

    def _using(self, t: Token) -> ast.Node:
        """``using (var x = e) body`` / ``using (e) body`` / ``using var x = e;`` — nothing the
        local gateway creates holds a resource: a scope, with the expression evaluated."""
        self.advance()
        if not self.is_op("("):
            if self.is_word("var"):
                start = self.advance()
                return self._finish_declaration(start, None)
            decl = self._try_declaration_type()
            if decl is None:
                raise self.error("'(' or a declaration expected after 'using'")
            return self._finish_declaration(self.tok, decl)
        self.advance()
        head: ast.Node
        if self.is_word("var") and self.peek().kind is Tok.IDENT:
            self.advance()
            head = self._declaration_head(None)
        elif (decl := self._try_declaration_type()) is not None:
            head = self._declaration_head(decl)
        else:
            expr = self.parse_expression()
            head = ast.ExprStmt(expr.pos, expr)
        self.expect_op(")")
        body = self.parse_embedded()
        return ast.Block(self.pos(t), (head, body))

    def _declaration_head(self, type_: ast.TypeRef | None) -> ast.Node:
        ident_tok = self.tok
        ident = self.expect_ident()
        self.expect_op("=")
        return ast.VarDecl(self.pos(ident_tok), ident, self.parse_expression(), type_)

    def _finish_declaration(self, start: Token, type_: ast.TypeRef | None) -> ast.Node:
        decls: list[ast.VarDecl] = []
        while True:
            ident_tok = self.tok
            ident = self.expect_ident()
            value = None
            if self.is_op("="):
                self.advance()
                value = self.parse_expression()
            elif type_ is None:
                raise self.error("Implicitly-typed variables must be initialized", ident_tok)
            decls.append(ast.VarDecl(self.pos(ident_tok), ident, value, type_))
            if self.is_op(","):
                self.advance()
                continue
            break
        self.expect_op(";")
        return decls[0] if len(decls) == 1 else ast.Declarations(self.pos(start), tuple(decls))

    def _starts_type(self) -> bool:
        return self.tok.value in TYPE_WORDS or self.tok.value in NAMESPACES

    def _try_declaration_type(self) -> ast.TypeRef | None:
        if not self._starts_type():
            return None
        save = self.i
        try:
            type_ = self.parse_type()
        except ExpressionSyntaxError:
            self.i = save
            return None
        if self.tok.kind is Tok.IDENT and self.peek().kind is Tok.OP and self.peek().value in ("=", ";", ","):
            return type_
        self.i = save
        return None

    def _try_local_function(self) -> ast.Node | None:
        """``[static] Type Name(Type a, ...) { ... }`` / ``=> expr;`` (C# 7 local functions)."""
        save = self.i
        start = self.tok
        if self.is_word("static"):
            self.advance()
        void = self.is_word("void")
        if void:
            self.advance()
        elif self._starts_type():
            try:
                self.parse_type()
            except ExpressionSyntaxError:
                self.i = save
                return None
        else:
            self.i = save
            return None
        if not (self.tok.kind is Tok.IDENT and self.is_op("(", self.peek())):
            self.i = save
            return None
        name = self.expect_ident()
        self.advance()
        params: list[str] = []
        while not self.is_op(")"):
            self.parse_type()
            params.append(self.expect_ident())
            if self.is_op("="):
                raise self.error(
                    "Optional parameters of local functions are not supported by the local gateway"
                )
            if self.is_op(","):
                self.advance()
            elif not self.is_op(")"):
                raise self.error("',' or ')' expected")
        self.advance()
        body: ast.Node
        if self.is_op("=>"):
            self.advance()
            body = self.parse_expression()
            self.expect_op(";")
        else:
            body = self.parse_block()
        return ast.LocalFunction(self.pos(start), name, tuple(params), body, void)
