"""Statements of ``@{ ... }`` expressions compiled to closures (the base of ``expr.compiler``).

Each statement becomes ``fn(frame) -> None | Flow``: ``None`` to go on, a ``Flow`` for
``return`` / ``break`` / ``continue``. Loops and calls spend the frame's budget
(``frame.MAX_STEPS``). ``try``/``catch``/``finally`` catch the .NET exceptions of the
evaluation (``EvalError``) — never the budget's — with ``catch``, ``catch (Exception)``,
``catch (Exception ex)`` and ``when`` filters; ``throw;`` rethrows, ``throw new Exception(m)``
raises. Local functions are hoisted (callable before their declaration, recursion included)
and keep their locals per call.
"""

from __future__ import annotations

from typing import Any

from emulator.gateway.expr import ast, netlib
from emulator.gateway.expr.frame import (
    BREAK,
    CONTINUE,
    MISSING,
    BudgetExceededError,
    Flow,
    Fn,
    Frame,
    LocalFunctionSlot,
    Scope,
)
from emulator.gateway.expr.lexer import ExpressionSyntaxError
from emulator.gateway.expr.netlib.exceptions import ExceptionObj
from emulator.gateway.expr.values import EvalError, equals, require_bool


def declared_names(node: object) -> set[str]:
    """Every local a subtree declares (variables, loop and catch variables, ``out var``)."""
    out: set[str] = set()
    stack: list[object] = [node]
    while stack:
        n = stack.pop()
        ident = getattr(n, "ident", None) if isinstance(n, ast.VarDecl | ast.Foreach | ast.Catch) else None
        if isinstance(n, ast.OutVar) and n.declares:
            ident = n.ident
        if isinstance(ident, str):
            out.add(ident)
        elif isinstance(n, ast.Lambda | ast.LocalFunction):
            out.update(n.params)
        if isinstance(n, ast.Node | ast.Argument):
            stack.extend(getattr(n, f) for f in n.__slots__)
        elif isinstance(n, tuple):
            stack.extend(n)
    return out


class StatementCompiler:
    """Compiles statements; ``expr``/``fail``/``check_type`` come from ``Compiler``."""

    def expr(self, node: ast.Node, scope: Scope, statement: bool = False) -> Fn:
        raise NotImplementedError

    def fail(self, message: str, node: ast.Node) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, node.pos)

    def check_type(self, t: ast.TypeRef, node: ast.Node) -> None:
        raise NotImplementedError

    # ---- blocks -------------------------------------------------------------------------------
    def block(self, node: ast.Block, scope: Scope) -> Fn:
        inner = scope.inner()
        self.hoist(node.stmts, inner)
        return self.sequence([self.stmt(s, inner) for s in node.stmts])

    @staticmethod
    def sequence(stmts: list[Fn]) -> Fn:
        def run(f: Frame) -> Any:
            for s in stmts:
                r = s(f)
                if r is not None:
                    return r
            return None

        return run

    def hoist(self, stmts: tuple[ast.Node, ...], scope: Scope) -> None:
        """Local functions are visible in their whole block (C#): declare them first."""
        for s in stmts:
            if isinstance(s, ast.LocalFunction):
                if s.name in scope.functions or s.name in scope.names:
                    raise self.fail(f"A local function named '{s.name}' is already defined in this scope", s)
                scope.functions[s.name] = LocalFunctionSlot(s.name, s.params)

    def stmt(self, node: ast.Node, scope: Scope) -> Fn:
        if isinstance(node, ast.Block):
            return self.block(node, scope)
        if isinstance(node, ast.VarDecl):
            return self.var_decl(node, scope)
        if isinstance(node, ast.Declarations):
            return self.sequence([self.var_decl(d, scope) for d in node.decls])
        if isinstance(node, ast.ExprStmt):
            fn = self.expr(node.expr, scope, statement=True)

            def run_expr(f: Frame) -> None:
                fn(f)

            return run_expr
        if isinstance(node, ast.If):
            return self.if_(node, scope)
        if isinstance(node, ast.Return):
            value = self.expr(node.value, scope) if node.value is not None else None

            def run_return(f: Frame) -> Flow:
                return Flow("return", value(f) if value is not None else None)

            return run_return
        if isinstance(node, ast.Jump):
            if not (scope.in_loop or (node.kind == "break" and scope.in_switch)):
                raise self.fail(f"No enclosing loop out of which to {node.kind}", node)
            flow = BREAK if node.kind == "break" else CONTINUE
            return lambda f: flow
        return self.compound(node, scope)

    def compound(self, node: ast.Node, scope: Scope) -> Fn:
        if isinstance(node, ast.Foreach):
            return self.foreach(node, scope)
        if isinstance(node, ast.Loop):
            return self.loop(node, scope)
        if isinstance(node, ast.Switch):
            return self.switch(node, scope)
        if isinstance(node, ast.Try):
            return self.try_(node, scope)
        if isinstance(node, ast.LocalFunction):
            return self.local_function(node, scope)
        raise self.fail(f"Unsupported statement '{type(node).__name__}'", node)

    def var_decl(self, node: ast.VarDecl, scope: Scope) -> Fn:
        if node.ident in scope.names:
            raise self.fail(f"A local variable named '{node.ident}' is already defined in this scope", node)
        if node.type is not None:
            self.check_type(node.type, node)
        value = self.expr(node.value, scope) if node.value is not None else None
        scope.names.add(node.ident)
        name = node.ident

        def declare(f: Frame) -> None:
            f.vars[name] = value(f) if value is not None else None

        return declare

    def if_(self, node: ast.If, scope: Scope) -> Fn:
        cond = self.expr(node.cond, scope)
        then = self.stmt(node.then, scope.inner())
        otherwise = self.stmt(node.otherwise, scope.inner()) if node.otherwise else None

        def run_if(f: Frame) -> Any:
            if require_bool(cond(f), "if condition"):
                return then(f)
            if otherwise is not None:
                return otherwise(f)
            return None

        return run_if

    # ---- loops --------------------------------------------------------------------------------
    def foreach(self, node: ast.Foreach, scope: Scope) -> Fn:
        iterable = self.expr(node.iterable, scope)
        if node.ident in scope.names:
            raise self.fail(f"A local variable named '{node.ident}' is already defined in this scope", node)
        body = self.stmt(node.body, scope.inner(node.ident, in_loop=True, in_switch=False))
        ident = node.ident

        def run_foreach(f: Frame) -> Any:
            for item in netlib.iterate(iterable(f)):
                f.tick()
                f.vars[ident] = item
                r = body(f)
                if r is None or r is CONTINUE:
                    continue
                if r is BREAK:
                    break
                return r
            return None

        return run_foreach

    def loop(self, node: ast.Loop, scope: Scope) -> Fn:
        outer = scope.inner()
        init = [self.stmt(s, outer) for s in node.init]
        cond = self.expr(node.cond, outer) if node.cond is not None else None
        body = self.stmt(node.body, outer.inner(in_loop=True, in_switch=False))
        step = [self.stmt(s, outer) for s in node.step]
        first_test = node.kind != "do"

        def run_loop(f: Frame) -> Any:
            for s in init:
                s(f)
            test = first_test
            while True:
                if test and cond is not None and not require_bool(cond(f), "loop condition"):
                    return None
                test = True
                f.tick()
                r = body(f)
                if r is BREAK:
                    return None
                if r is not None and r is not CONTINUE:
                    return r
                for s in step:
                    s(f)

        return run_loop

    def switch(self, node: ast.Switch, scope: Scope) -> Fn:
        subject = self.expr(node.subject, scope)
        sections: list[tuple[list[Fn | None], Fn]] = []
        for section in node.sections:
            labels = [self.expr(label, scope) if label is not None else None for label in section.labels]
            inner = scope.inner(in_switch=True)
            self.hoist(section.body, inner)
            if section.body and _falls_through(section.body[-1]):
                raise self.fail("Control cannot fall through from one case label to another", section)
            sections.append((labels, self.sequence([self.stmt(s, inner) for s in section.body])))

        def run_switch(f: Frame) -> Any:
            value = subject(f)
            chosen: Fn | None = None
            for labels, body in sections:
                if any(label is not None and equals(value, label(f)) for label in labels):
                    chosen = body
                    break
            if chosen is None:
                chosen = next((body for labels, body in sections if None in labels), None)
            if chosen is None:
                return None
            r = chosen(f)
            return None if r is BREAK else r

        return run_switch

    # ---- exceptions ---------------------------------------------------------------------------
    def try_(self, node: ast.Try, scope: Scope) -> Fn:
        body = self.block(node.body, scope)
        handlers: list[tuple[str | None, Fn | None, Fn]] = []
        for c in node.catches:
            inner = scope.inner(*([c.ident] if c.ident else []), in_catch=True)
            when = self.expr(c.when, inner) if c.when is not None else None
            handlers.append((c.ident, when, self.block(c.body, inner)))
        if node.final is not None and _contains_jump_out(node.final):
            raise self.fail("Control cannot leave the body of a finally clause", node.final)
        final = self.block(node.final, scope) if node.final is not None else None

        def run_try(f: Frame) -> Any:
            try:
                return body(f)
            except BudgetExceededError:
                raise
            except EvalError as exc:
                for ident, when, handler in handlers:
                    if ident is not None:
                        f.vars[ident] = ExceptionObj(exc.type_name, exc.message)
                    if when is not None and not require_bool(when(f), "exception filter"):
                        continue
                    f.caught.append(exc)
                    try:
                        return handler(f)
                    finally:
                        f.caught.pop()
                raise
            finally:
                if final is not None:
                    final(f)

        return run_try

    def throw(self, node: ast.Throw, scope: Scope) -> Fn:
        if node.value is None:
            if not scope.in_catch:
                raise self.fail(
                    "A throw statement with no arguments is not allowed outside of a catch clause", node
                )

            def rethrow(f: Frame) -> Any:
                raise f.caught[-1]

            return rethrow
        value = self.expr(node.value, scope)

        def throw(f: Frame) -> Any:
            exc = value(f)
            if exc is None:
                raise EvalError(
                    "NullReferenceException", "Object reference not set to an instance of an object."
                )
            if not isinstance(exc, ExceptionObj):
                raise EvalError("InvalidCastException", "The thrown value is not an exception.")
            raise EvalError(exc.type_name, exc.Message)

        return throw

    # ---- local functions ----------------------------------------------------------------------
    def local_function(self, node: ast.LocalFunction, scope: Scope) -> Fn:
        slot = scope.functions[node.name]
        inner = scope.inner(*node.params, in_loop=False, in_switch=False, in_catch=False)
        if isinstance(node.body, ast.Block):
            if not node.void and not always_returns(node.body):
                raise self.fail(f"'{node.name}': not all code paths return a value", node)
            block = self.block(node.body, inner)

            def run_block(f: Frame) -> Any:
                r = block(f)
                return r.value if isinstance(r, Flow) else None

            slot.body = run_block
        else:
            slot.body = self.expr(node.body, inner, statement=True)
        slot.declared = frozenset(declared_names(node.body) | set(node.params))
        return lambda f: None

    def call_local(self, node: ast.Call, slot: LocalFunctionSlot, scope: Scope) -> Fn:
        if len(node.args) != len(slot.params):
            raise self.fail(f"No overload for method '{slot.name}' takes {len(node.args)} arguments", node)
        args = [self.expr(a.value, scope) for a in node.args]
        params = slot.params

        def call(f: Frame) -> Any:
            values = [a(f) for a in args]
            assert slot.body is not None
            saved = [(n, f.vars.get(n, MISSING)) for n in slot.declared]
            f.vars.update(zip(params, values, strict=True))
            f.tick()
            try:
                return slot.body(f)
            finally:
                for n, old in saved:
                    if old is MISSING:
                        f.vars.pop(n, None)
                    else:
                        f.vars[n] = old

        return call


def _falls_through(last: ast.Node) -> bool:
    if isinstance(last, ast.Return | ast.Jump):
        return False
    if isinstance(last, ast.ExprStmt) and isinstance(last.expr, ast.Throw):
        return False
    if isinstance(last, ast.Block):
        return not last.stmts or _falls_through(last.stmts[-1])
    if isinstance(last, ast.If):
        return last.otherwise is None or _falls_through(last.then) or _falls_through(last.otherwise)
    return True


def _contains_jump_out(node: object) -> bool:
    stack: list[object] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Return):
            return True
        if isinstance(n, ast.LocalFunction | ast.Lambda | ast.Loop | ast.Foreach | ast.Switch):
            continue  # their own returns/jumps stay inside them
        if isinstance(n, ast.Node):
            stack.extend(getattr(n, f) for f in n.__slots__)
        elif isinstance(n, tuple):
            stack.extend(n)
    return False


def always_returns(node: ast.Node) -> bool:
    """C#'s "not all code paths return a value" (definite completion), for the subset."""
    if isinstance(node, ast.Return):
        return True
    if isinstance(node, ast.ExprStmt):
        return isinstance(node.expr, ast.Throw)
    if isinstance(node, ast.Block):
        return any(always_returns(s) for s in node.stmts)
    if isinstance(node, ast.If):
        return node.otherwise is not None and always_returns(node.then) and always_returns(node.otherwise)
    if isinstance(node, ast.Try):
        if node.final is not None and always_returns(node.final):
            return True
        return always_returns(node.body) and all(always_returns(c.body) for c in node.catches)
    if isinstance(node, ast.Switch):
        has_default = any(None in s.labels for s in node.sections)
        return has_default and all(any(always_returns(x) for x in s.body) for s in node.sections)
    if isinstance(node, ast.Loop):
        endless = node.cond is None or (isinstance(node.cond, ast.Literal) and node.cond.value is True)
        return endless and not _breaks(node.body)
    return False


def _breaks(node: object) -> bool:
    """A ``break`` that leaves this loop (not one of a nested loop or switch)."""
    stack: list[object] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Jump) and n.kind == "break":
            return True
        if isinstance(n, ast.Loop | ast.Foreach | ast.Switch | ast.LocalFunction | ast.Lambda):
            continue
        if isinstance(n, ast.Node):
            stack.extend(getattr(n, f) for f in n.__slots__)
        elif isinstance(n, tuple):
            stack.extend(n)
    return False
