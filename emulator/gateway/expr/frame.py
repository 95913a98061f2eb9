"""The run-time frame of one expression evaluation and the compile-time scope, shared by the
expression compiler (``expr.compiler``) and the statement compiler (``expr.flow``).

``Frame`` holds the locals, the loop budget (``MAX_STEPS`` iterations and calls per evaluation)
and the exceptions being handled (``throw;`` rethrows the innermost). ``Flow`` is how a
statement says ``return`` / ``break`` / ``continue``. ``Scope`` is what a name may refer to
while compiling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.gateway.expr.values import EvalError

Fn = Callable[["Frame"], Any]
MAX_STEPS = 100_000
MISSING = object()


class BudgetExceededError(EvalError):
    """The evaluation ran out of the local gateway's budget: never caught by a ``catch``."""


class Frame:
    """Locals of one evaluation (plus the loop budget and the exceptions being handled)."""

    __slots__ = ("caught", "context", "steps", "vars")

    def __init__(self, context: Any) -> None:
        self.context = context
        self.vars: dict[str, Any] = {}
        self.steps = 0
        self.caught: list[EvalError] = []

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise BudgetExceededError(
                "InvalidOperationException",
                "The expression ran more loop iterations or calls than the local gateway allows.",
            )


class Flow:
    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: Any = None) -> None:
        self.kind = kind
        self.value = value


BREAK = Flow("break")
CONTINUE = Flow("continue")


@dataclass
class LocalFunctionSlot:
    """A local function: filled once its body is compiled (calls may precede the declaration)."""

    name: str
    params: tuple[str, ...]
    declared: frozenset[str] = frozenset()  # every local its body declares (saved per call)
    body: Fn | None = None


@dataclass
class Scope:
    names: set[str] = field(default_factory=set)
    anon_fields: set[str] = field(default_factory=set)
    functions: dict[str, LocalFunctionSlot] = field(default_factory=dict)
    in_catch: bool = False
    in_loop: bool = False
    in_switch: bool = False

    def inner(self, *names: str, **flags: bool) -> Scope:
        """A nested scope: the outer names (and these), the outer functions, the flags."""
        child = Scope(self.names | set(names), self.anon_fields, dict(self.functions))
        child.in_catch, child.in_loop, child.in_switch = self.in_catch, self.in_loop, self.in_switch
        for key, value in flags.items():
            setattr(child, key, value)
        return child
