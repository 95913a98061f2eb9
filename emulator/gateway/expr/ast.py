"""Syntax tree of the C# policy-expression subset (output of ``expr.parser``).

Nodes are frozen dataclasses; ``pos`` is the character offset in the expression text so the
PUT-time checks can name where a construct sits. ``expr.compiler`` turns a tree into closures.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TypeRef:
    name: str  # dotted, namespaces stripped by the compiler (e.g. "string", "JObject")
    args: tuple[TypeRef, ...] = ()
    array: bool = False
    nullable: bool = False

    def __str__(self) -> str:
        text = self.name
        if self.args:
            text += "<" + ", ".join(str(a) for a in self.args) + ">"
        return text + ("[]" if self.array else "") + ("?" if self.nullable else "")


@dataclass(frozen=True, slots=True)
class Node:
    pos: int


# ---- expressions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: object


@dataclass(frozen=True, slots=True)
class Name(Node):
    ident: str


@dataclass(frozen=True, slots=True)
class Member(Node):
    target: Node
    name: str
    null_conditional: bool = False


@dataclass(frozen=True, slots=True)
class Argument:
    value: Node
    name: str | None = None  # named argument (``preserveContent: true``)


@dataclass(frozen=True, slots=True)
class OutVar(Node):
    """``out var x`` / ``out Type x`` / ``out x`` inside an argument list."""

    ident: str
    declares: bool


@dataclass(frozen=True, slots=True)
class Call(Node):
    target: Node  # Name or Member
    args: tuple[Argument, ...]
    type_args: tuple[TypeRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Index(Node):
    target: Node
    index: Node
    null_conditional: bool = False


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Conditional(Node):
    cond: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True, slots=True)
class Lambda(Node):
    params: tuple[str, ...]
    body: Node  # an expression or a Block


@dataclass(frozen=True, slots=True)
class Cast(Node):
    type: TypeRef
    operand: Node


@dataclass(frozen=True, slots=True)
class TypeTest(Node):
    """``x is T`` (op "is") and ``x as T`` (op "as")."""

    op: str
    operand: Node
    type: TypeRef


@dataclass(frozen=True, slots=True)
class New(Node):
    type: TypeRef
    args: tuple[Argument, ...]
    items: tuple[Node, ...] | None = None  # collection initializer / array elements


@dataclass(frozen=True, slots=True)
class TypeName(Node):
    """A bare type in expression position (``string.Join``, ``JObject.Parse``)."""

    type: TypeRef


@dataclass(frozen=True, slots=True)
class Interpolated(Node):
    parts: tuple[str | tuple[Node, str | None], ...]


@dataclass(frozen=True, slots=True)
class Assign(Node):
    op: str  # "=", "+=", ..., "++", "--"
    target: Node
    value: Node | None


# ---- statements ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Block(Node):
    stmts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class VarDecl(Node):
    ident: str
    value: Node | None
    type: TypeRef | None = None


@dataclass(frozen=True, slots=True)
class Declarations(Node):
    """``int a = 1, b = 2;``: several declarators, all in the enclosing scope."""

    decls: tuple[VarDecl, ...]


@dataclass(frozen=True, slots=True)
class ExprStmt(Node):
    expr: Node


@dataclass(frozen=True, slots=True)
class If(Node):
    cond: Node
    then: Node
    otherwise: Node | None


@dataclass(frozen=True, slots=True)
class Return(Node):
    value: Node | None


@dataclass(frozen=True, slots=True)
class Foreach(Node):
    ident: str
    iterable: Node
    body: Node


@dataclass(frozen=True, slots=True)
class Jump(Node):
    kind: str  # "break" | "continue"


# ---- initializers, local functions, exceptions, loops (C# statements beyond the basics) ------


@dataclass(frozen=True, slots=True)
class Init(Node):
    """In ``new T { ... }``: a member initializer (``Key = v``: ``member`` set) or an index
    initializer (``["k"] = v``: ``index`` set)."""

    member: str | None
    index: Node | None
    value: Node


@dataclass(frozen=True, slots=True)
class LocalFunction(Node):
    """``Type Name(Type a, Type b) { ... }`` or ``... => expr;`` inside a statement block."""

    name: str
    params: tuple[str, ...]
    body: Node  # a Block, or an expression (``=>``)
    void: bool = False


@dataclass(frozen=True, slots=True)
class Catch(Node):
    ident: str | None  # ``catch (Exception ex)``
    when: Node | None  # exception filter
    body: Block


@dataclass(frozen=True, slots=True)
class Try(Node):
    body: Block
    catches: tuple[Catch, ...]
    final: Block | None


@dataclass(frozen=True, slots=True)
class Throw(Node):
    value: Node | None  # None: ``throw;`` (rethrow inside a catch)


@dataclass(frozen=True, slots=True)
class Loop(Node):
    """``for`` / ``while`` / ``do ... while``: ``init`` and ``step`` only for ``for``."""

    kind: str
    init: tuple[Node, ...]
    cond: Node | None
    step: tuple[Node, ...]
    body: Node


@dataclass(frozen=True, slots=True)
class SwitchSection(Node):
    labels: tuple[Node | None, ...]  # None: ``default``
    body: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Switch(Node):
    subject: Node
    sections: tuple[SwitchSection, ...]
