"""Attribute and text values of policy elements: a literal or a compiled ``@(...)``/``@{...}``.

Named values (``{{Name}}``) are already substituted when a ``Val`` is built (``policy``), so
a named value holding an expression becomes an expression, as in APIM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator.gateway.errors import PolicyCompileError, PolicyFailure
from emulator.gateway.expr import (
    CompiledExpression,
    EvalError,
    ExpressionSyntaxError,
    compile_expression,
    to_string,
)
from emulator.gateway.source import Where


@dataclass(frozen=True, slots=True)
class Val:
    literal: str | None
    expr: CompiledExpression | None
    element: str
    line: int

    def get(self, ctx: Any) -> Any:
        if self.expr is None:
            return self.literal
        try:
            return self.expr.evaluate(ctx)
        except EvalError as exc:
            raise PolicyFailure(
                self.element,
                "ExpressionValueEvaluationFailure",
                f"Expression evaluation failed. {exc.message}",
            ) from exc

    def text(self, ctx: Any) -> str:
        return to_string(self.get(ctx))

    def boolean(self, ctx: Any) -> bool:
        value = self.get(ctx)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise PolicyFailure(
            self.element,
            "ExpressionValueEvaluationFailure",
            f"Expression value '{to_string(value)}' is not a boolean.",
        )

    def integer(self, ctx: Any) -> int:
        value = self.get(ctx)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return int(str(value).strip())
        except ValueError as exc:
            raise PolicyFailure(
                self.element,
                "ExpressionValueEvaluationFailure",
                f"Value '{to_string(value)}' is not an integer.",
            ) from exc

    @property
    def uses_request_body(self) -> bool:
        return self.expr is not None and self.expr.uses_request_body

    @property
    def uses_response_body(self) -> bool:
        return self.expr is not None and self.expr.uses_response_body


def make_val(text: str, element: str, where: Where | int, allow_expression: bool = True) -> Val:
    """A literal, or the compiled expression of ``text``; ``where`` is where the text starts in
    the document (a ``Where``, or just a line), so a refusal names the exact line and column."""
    at = where if isinstance(where, Where) else Where(where, 0)
    stripped = text.strip()
    if stripped.startswith(("@(", "@{")):
        lead = len(text) - len(text.lstrip())
        if not allow_expression:
            line, column = at.at(text, lead)
            raise PolicyCompileError(element, line, "Policy expressions are not allowed here.", column)
        try:
            compiled = compile_expression(stripped[1:])
        except ExpressionSyntaxError as exc:
            line, column = at.at(text, lead + 1 + exc.pos)
            raise PolicyCompileError(
                element,
                line,
                f"{exc.message} (in the expression: '{_excerpt(stripped, exc.pos + 1)}')",
                column,
            ) from exc
        return Val(None, compiled, element, at.line)
    return Val(text, None, element, at.line)


def _excerpt(text: str, pos: int) -> str:
    start = max(0, pos - 20)
    return text[start : pos + 20].replace("\n", " ")
