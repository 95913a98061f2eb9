"""Compiler of policy expressions (third stage: ``expr.ast`` -> Python closures).

``compile_expression`` parses the text after ``@`` once (at PUT time and when the gateway loads
a policy), checks it against what the local gateway supports — names in scope, members and
methods of the supported object model, types — and returns a ``CompiledExpression`` whose
``evaluate(context)`` runs per request. Evaluation errors are ``values.EvalError``; nothing
else escapes (the policy engine relies on that to route failures to ``on-error``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.gateway.expr import ast, netlib, surface
from emulator.gateway.expr.flow import StatementCompiler, always_returns
from emulator.gateway.expr.frame import MISSING, Flow, Fn, Frame, Scope
from emulator.gateway.expr.lexer import ExpressionSyntaxError
from emulator.gateway.expr.operators import BINARY, UNARY, add, is_number, operand_error
from emulator.gateway.expr.parser import parse_policy_expression
from emulator.gateway.expr.values import MAX_STRING, EvalError, NetObject, require_bool
from emulator.gateway.expr.words import not_allowed


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    source: str
    run: Fn
    uses_request_body: bool
    uses_response_body: bool

    def evaluate(self, context: Any) -> Any:
        try:
            return self.run(Frame(context))
        except EvalError:
            raise
        except RecursionError as exc:
            raise EvalError(
                "InsufficientExecutionStackException", "Expression is nested too deeply."
            ) from exc
        except (
            ArithmeticError,
            ValueError,
            TypeError,
            KeyError,
            IndexError,
            AttributeError,
            UnicodeError,
        ) as exc:
            # a library corner the dispatch tables did not translate: still a .NET-style failure
            raise EvalError("InvalidOperationException", f"{type(exc).__name__}: {exc}") from exc


class Compiler(StatementCompiler):
    def __init__(self, source: str) -> None:
        self.source = source
        self.uses_request_body = False
        self.uses_response_body = False

    def fail(self, message: str, node: ast.Node) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(message, node.pos)

    # ---- types ------------------------------------------------------------------------------
    def check_type(self, t: ast.TypeRef, node: ast.Node) -> None:
        self.allowed(t, node)
        if t.name not in surface.CASTABLE and t.name not in netlib.STATIC_TYPES and t.name != "byte":
            raise self.fail(f"The type '{t}' is not supported by the local gateway", node)
        for a in t.args:
            self.check_type(a, node)

    def allowed(self, t: ast.TypeRef, node: ast.Node) -> None:
        """API Management refuses a type outside its list of allowed .NET types."""
        refusal = not_allowed(t.name)
        if refusal is not None:
            raise self.fail(refusal, node)
        for a in t.args:
            self.allowed(a, node)

    # ---- expressions ------------------------------------------------------------------------
    def expr(self, node: ast.Node, scope: Scope, statement: bool = False) -> Fn:
        if isinstance(node, ast.Literal):
            value = node.value
            return lambda f: value
        if isinstance(node, ast.Name):
            return self.name(node, scope)
        if isinstance(node, ast.Init):
            raise self.fail("An initializer is only valid inside 'new T { ... }'", node)
        if isinstance(node, ast.TypeName):
            self.allowed(node.type, node)
            static = netlib.STATIC_TYPES.get(node.type.name)
            if static is None:
                raise self.fail(f"The type '{node.type.name}' is not supported by the local gateway", node)
            return lambda f: static
        if isinstance(node, ast.Member):
            return self.member(node, scope)
        if isinstance(node, ast.Call):
            return self.call(node, scope)
        if isinstance(node, ast.Index):
            return self.index(node, scope)
        if isinstance(node, ast.Unary):
            operand = self.expr(node.operand, scope)
            op = UNARY[node.op]
            return lambda f: op(operand(f))
        if isinstance(node, ast.Binary):
            return self.binary(node, scope)
        if isinstance(node, ast.Conditional):
            cond, then, otherwise = (
                self.expr(node.cond, scope),
                self.expr(node.then, scope),
                self.expr(node.otherwise, scope),
            )
            return lambda f: then(f) if require_bool(cond(f), "conditional") else otherwise(f)
        if isinstance(node, ast.Lambda):
            return self.lambda_(node, scope)
        if isinstance(node, ast.Cast):
            return self.cast(node, scope)
        if isinstance(node, ast.TypeTest):
            return self.type_test(node, scope)
        if isinstance(node, ast.New):
            return self.new(node, scope)
        if isinstance(node, ast.Interpolated):
            return self.interpolated(node, scope)
        if isinstance(node, ast.Assign):
            if not statement:
                raise self.fail("Assignments are supported only as statements in a policy expression", node)
            return self.assign(node, scope)
        if isinstance(node, ast.Throw):
            return self.throw(node, scope)
        if isinstance(node, ast.OutVar):
            raise self.fail("'out' is only valid in an argument list", node)
        if isinstance(node, ast.Block):
            raise self.fail("A statement block is not an expression", node)
        raise self.fail(f"Unsupported expression '{type(node).__name__}'", node)

    def name(self, node: ast.Name, scope: Scope) -> Fn:
        ident = node.ident
        if ident == "context":
            return lambda f: f.context
        if ident not in scope.names:
            raise self.fail(f"The name '{ident}' does not exist in the current context", node)
        return lambda f: f.vars[ident]

    def index(self, node: ast.Index, scope: Scope) -> Fn:
        target = self.expr(node.target, scope)
        index = self.expr(node.index, scope)
        if node.null_conditional:

            def idx_nc(f: Frame) -> Any:
                obj = target(f)
                return None if obj is None else netlib.get_index(obj, index(f))

            return idx_nc
        return lambda f: netlib.get_index(target(f), index(f))

    def cast(self, node: ast.Cast, scope: Scope) -> Fn:
        t = node.type
        self.check_cast_type(t, node)
        operand = self.expr(node.operand, scope)
        name, array, nullable = t.name, t.array, t.nullable
        return lambda f: netlib.cast(operand(f), name, array, nullable)

    def type_test(self, node: ast.TypeTest, scope: Scope) -> Fn:
        t = node.type
        self.check_cast_type(t, node)
        operand = self.expr(node.operand, scope)
        name, array = t.name, t.array
        if node.op == "is":
            return lambda f: netlib.is_type(operand(f), name, array)

        def as_(f: Frame) -> Any:
            v = operand(f)
            return v if netlib.is_type(v, name, array) else None

        return as_

    def interpolated(self, node: ast.Interpolated, scope: Scope) -> Fn:
        parts: list[Fn] = []
        for part in node.parts:
            if isinstance(part, str):
                text = part
                parts.append(lambda f, text=text: text)  # type: ignore[misc]
            else:
                sub, fmt = self.expr(part[0], scope), part[1]
                parts.append(lambda f, sub=sub, fmt=fmt: netlib.format_value(sub(f), fmt))  # type: ignore[misc]

        def interp(f: Frame) -> str:
            text = "".join(p(f) for p in parts)
            if len(text) > MAX_STRING:
                raise EvalError("OutOfMemoryException", "The string is longer than the local gateway allows.")
            return text

        return interp

    def check_cast_type(self, t: ast.TypeRef, node: ast.Node) -> None:
        self.allowed(t, node)
        if t.array and t.name in ("byte", "string", "object", "int", "JToken"):
            return
        if t.name not in surface.CASTABLE:
            raise self.fail(f"Casting to '{t}' is not supported by the local gateway", node)

    def binary(self, node: ast.Binary, scope: Scope) -> Fn:
        left, right = self.expr(node.left, scope), self.expr(node.right, scope)
        if node.op == "&&":
            return lambda f: (
                require_bool(left(f), "operand of '&&'") and require_bool(right(f), "operand of '&&'")
            )
        if node.op == "||":
            return lambda f: (
                require_bool(left(f), "operand of '||'") or require_bool(right(f), "operand of '||'")
            )
        if node.op == "??":

            def coalesce(f: Frame) -> Any:
                v = left(f)
                return right(f) if v is None else v

            return coalesce
        op = BINARY.get(node.op)
        if op is None:
            raise self.fail(f"The operator '{node.op}' is not supported by the local gateway", node)
        return lambda f: op(left(f), right(f))

    def member(self, node: ast.Member, scope: Scope) -> Fn:
        name = node.name
        if name == "Body":
            self._note_body(node)
        target = self.expr(node.target, scope)
        if name not in surface.KNOWN_MEMBERS and name not in scope.anon_fields:
            raise self.fail(
                f"'{name}' is not a member the local gateway supports (see docs/policies.md)", node
            )
        if node.null_conditional:

            def get_nc(f: Frame) -> Any:
                obj = target(f)
                return None if obj is None else netlib.get_member(obj, name)

            return get_nc
        return lambda f: netlib.get_member(target(f), name)

    def _note_body(self, node: ast.Member) -> None:
        t = node.target
        if isinstance(t, ast.Member) and isinstance(t.target, ast.Name) and t.target.ident == "context":
            if t.name == "Request":
                self.uses_request_body = True
            elif t.name == "Response":
                self.uses_response_body = True
            return
        # body of a send-request response variable, or an unknown path: assume both
        self.uses_request_body = True
        self.uses_response_body = True

    def call(self, node: ast.Call, scope: Scope) -> Fn:
        if isinstance(node.target, ast.Name) and node.target.ident in scope.functions:
            return self.call_local(node, scope.functions[node.target.ident], scope)
        if not isinstance(node.target, ast.Member):
            name = node.target.ident if isinstance(node.target, ast.Name) else "?"
            raise self.fail(f"The method '{name}' does not exist in the current context", node)
        member = node.target
        name = member.name
        if name not in surface.KNOWN_METHODS:
            raise self.fail(
                f"The method '{name}' is not supported by the local gateway (see docs/policies.md)", node
            )
        for t in node.type_args:
            self.check_type(t, node)
        targs = tuple(("byte[]" if t.array and t.name == "byte" else t.name) for t in node.type_args)
        target = self.expr(member.target, scope)
        args: list[Fn] = []
        names: list[str | None] = []
        outs: list[tuple[int, str]] = []
        for i, arg in enumerate(node.args):
            if isinstance(arg.value, ast.OutVar):
                if arg.value.declares:
                    scope.names.add(arg.value.ident)
                elif arg.value.ident not in scope.names:
                    raise self.fail(
                        f"The name '{arg.value.ident}' does not exist in the current context", arg.value
                    )
                outs.append((i, arg.value.ident))
                args.append(lambda f: netlib.OutRef())
            else:
                args.append(self.expr(arg.value, scope))
            names.append(arg.name)
        null_cond = member.null_conditional
        has_names = any(n is not None for n in names)

        def invoke(f: Frame) -> Any:
            obj = target(f)
            if obj is None and null_cond:
                return None
            values = [a(f) for a in args]
            if has_names:
                pos = [v for v, n in zip(values, names, strict=True) if n is None]
                kw = {n: v for v, n in zip(values, names, strict=True) if n is not None}
            else:
                pos, kw = values, {}
            result = netlib.call_method(obj, name, pos, kw, targs)
            for i, ident in outs:
                ref = values[i]
                f.vars[ident] = ref.value
            return result

        return invoke

    def lambda_(self, node: ast.Lambda, scope: Scope) -> Fn:
        inner = scope.inner(*node.params, in_loop=False, in_switch=False)
        if isinstance(node.body, ast.Block):
            block = self.block(node.body, inner)

            def run_block(f: Frame) -> Any:
                r = block(f)
                return r.value if isinstance(r, Flow) else None

            body: Fn = run_block
        else:
            body = self.expr(node.body, inner)
        params = node.params

        def make(f: Frame) -> Callable[..., Any]:
            def fn(*args: Any) -> Any:
                if len(args) != len(params):
                    raise EvalError("ArgumentException", f"The lambda takes {len(params)} arguments.")
                saved = [(p, f.vars.get(p, MISSING)) for p in params]
                for p, a in zip(params, args, strict=True):
                    f.vars[p] = a
                try:
                    f.tick()
                    return body(f)
                finally:
                    for p, old in saved:
                        if old is MISSING:
                            f.vars.pop(p, None)
                        else:
                            f.vars[p] = old

            return fn

        return make

    def new(self, node: ast.New, scope: Scope) -> Fn:
        t = node.type
        if t.name == "<anonymous>":
            fields: list[tuple[str, Fn]] = []
            for item in node.items or ():
                if (
                    isinstance(item, ast.Assign)
                    and isinstance(item.target, ast.Name)
                    and item.value is not None
                ):
                    fields.append((item.target.ident, self.expr(item.value, scope)))
                    scope.anon_fields.add(item.target.ident)
                elif isinstance(item, ast.Member):
                    fields.append((item.name, self.expr(item, scope)))
                    scope.anon_fields.add(item.name)
                else:
                    raise self.fail("Invalid anonymous type member declarator", item)
            return lambda f: netlib.AnonObject({k: v(f) for k, v in fields})
        self.allowed(t, node)
        if t.array:
            if t.name not in ("object", "string", "byte", "int", "char", "JToken", "long", "double", "bool"):
                raise self.fail(f"Arrays of '{t.name}' are not supported by the local gateway", node)
        elif t.name not in netlib.STATIC_TYPES or netlib.STATIC_TYPES[t.name].ctor is None:
            raise self.fail(f"'new {t}(...)' is not supported by the local gateway", node)
        args = [self.expr(a.value, scope) for a in node.args]
        plain = [i for i in node.items or () if not isinstance(i, ast.Init)]
        items = [self.expr(i, scope) for i in plain] if node.items is not None else None
        inits = [self.initializer(i, scope) for i in node.items or () if isinstance(i, ast.Init)]
        name, array = t.name, t.array

        def construct(f: Frame) -> Any:
            obj = netlib.construct(
                name, [a(f) for a in args], [i(f) for i in items] if items is not None else None, array
            )
            for init in inits:
                init(f, obj)
            return obj

        return construct

    def initializer(self, node: ast.Init, scope: Scope) -> Callable[[Frame, Any], None]:
        """``Key = v`` (a settable property) or ``["k"] = v`` (an indexer) of ``new T { ... }``."""
        value = self.expr(node.value, scope)
        if node.member is not None:
            member = node.member
            if member not in surface.KNOWN_MEMBERS:
                raise self.fail(
                    f"'{member}' is not a member the local gateway supports (see docs/policies.md)", node
                )

            def set_member(f: Frame, obj: Any) -> None:
                netlib.set_member(obj, member, value(f))

            return set_member
        assert node.index is not None
        key = self.expr(node.index, scope)

        def set_item(f: Frame, obj: Any) -> None:
            netlib.set_index(obj, key(f), value(f))

        return set_item

    def assign(self, node: ast.Assign, scope: Scope) -> Fn:
        target = node.target
        op = node.op
        value = self.expr(node.value, scope) if node.value is not None else None
        if op in ("++", "--"):
            delta = 1 if op == "++" else -1

            def compute(old: Any, f: Frame) -> Any:
                if not is_number(old):
                    raise operand_error(op, old, delta)
                return add(old, delta)

        elif op == "=":

            def compute(old: Any, f: Frame) -> Any:
                return value(f)  # type: ignore[misc]

        elif op == "??=":

            def compute(old: Any, f: Frame) -> Any:
                return value(f) if old is None else old  # type: ignore[misc]

        else:
            bop = BINARY[op[0]]

            def compute(old: Any, f: Frame) -> Any:
                return bop(old, value(f))  # type: ignore[misc]

        if isinstance(target, ast.Name):
            ident = target.ident
            if ident not in scope.names:
                raise self.fail(f"The name '{ident}' does not exist in the current context", target)

            def set_local(f: Frame) -> Any:
                v = compute(f.vars.get(ident) if op != "=" else None, f)
                f.vars[ident] = v
                return v

            return set_local
        if isinstance(target, ast.Index):
            obj_fn = self.expr(target.target, scope)
            key_fn = self.expr(target.index, scope)

            def set_item(f: Frame) -> Any:
                obj, key = obj_fn(f), key_fn(f)
                v = compute(netlib.get_index(obj, key) if op != "=" else None, f)
                netlib.set_index(obj, key, v)
                return v

            return set_item
        if isinstance(target, ast.Member):
            obj_fn = self.expr(target.target, scope)
            name = target.name
            if name not in surface.KNOWN_MEMBERS:
                raise self.fail(
                    f"'{name}' is not a member the local gateway supports (see docs/policies.md)", target
                )

            def set_member(f: Frame) -> Any:
                obj = obj_fn(f)
                if obj is None:
                    raise EvalError(
                        "NullReferenceException", "Object reference not set to an instance of an object."
                    )
                if not isinstance(obj, NetObject):
                    raise EvalError("InvalidOperationException", f"Property '{name}' cannot be assigned to.")
                v = compute(obj.net_get(name) if op != "=" else None, f)
                obj.net_set(name, v)
                return v

            return set_member
        raise self.fail("The left-hand side of an assignment must be a variable, property or indexer", node)


def compile_expression(text: str) -> CompiledExpression:
    """Compile the text following ``@`` (``(expr)`` or ``{statements}``); raises ExpressionSyntaxError."""
    tree = parse_policy_expression(text)
    c = Compiler(text)
    try:
        if isinstance(tree, ast.Block):
            if not always_returns(tree):
                raise ExpressionSyntaxError("Not all code paths return a value", tree.pos)
            block = c.block(tree, Scope())

            def run_block(f: Frame) -> Any:
                r = block(f)
                return r.value if isinstance(r, Flow) and r.kind == "return" else None

            run: Fn = run_block
        else:
            run = c.expr(tree, Scope())
    except RecursionError as exc:
        raise ExpressionSyntaxError("Expression is nested too deeply", 0) from exc
    return CompiledExpression(text, run, c.uses_request_body, c.uses_response_body)
