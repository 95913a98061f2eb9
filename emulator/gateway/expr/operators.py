"""C# operators over expression values: arithmetic with Int64 wrap-around, string and date
arithmetic, comparisons, bitwise and unary operators (``BINARY`` / ``UNARY``, by symbol).

The compiler (``expr.compiler``) looks an operator up once at compile time; the functions raise
``values.EvalError`` as .NET would (``DivideByZeroException``, ``InvalidOperationException``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from emulator.gateway.expr.values import (
    MAX_STRING,
    Char,
    EvalError,
    equals,
    require_bool,
    require_int,
    to_string,
    type_name,
)

_INT64 = 2**63


def _wrap_int(v: int) -> int:
    if -_INT64 <= v < _INT64:
        return v
    return (v + _INT64) % (2 * _INT64) - _INT64


def operand_error(op: str, a: object, b: object) -> EvalError:
    return EvalError(
        "InvalidOperationException",
        f"Operator '{op}' cannot be applied to operands of type '{type_name(a)}' and '{type_name(b)}'.",
    )


def is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def add(a: Any, b: Any) -> Any:
    if (isinstance(a, str) and not isinstance(a, Char)) or (isinstance(b, str) and not isinstance(b, Char)):
        text = to_string(a) + to_string(b)
        if len(text) > MAX_STRING:
            raise EvalError("OutOfMemoryException", "The string is longer than the local gateway allows.")
        return text
    if isinstance(a, Char) and isinstance(b, Char):
        return ord(a) + ord(b)
    if isinstance(a, Char) and is_number(b):
        return ord(a) + b
    if is_number(a) and is_number(b):
        r = a + b
        return _wrap_int(r) if isinstance(r, int) else r
    if (isinstance(a, datetime) and isinstance(b, timedelta)) or (
        isinstance(a, timedelta) and isinstance(b, timedelta | datetime)
    ):
        try:
            return a + b  # type: ignore[operator]  # datetime+timedelta / timedelta+(timedelta|datetime)
        except OverflowError as exc:
            raise EvalError(
                "ArgumentOutOfRangeException",
                "The added or subtracted value results in an un-representable DateTime.",
            ) from exc
    if a is None and b is None:
        return None
    raise operand_error("+", a, b)


def _sub(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        r = a - b
        return _wrap_int(r) if isinstance(r, int) else r
    if (isinstance(a, datetime) and isinstance(b, datetime | timedelta)) or (
        isinstance(a, timedelta) and isinstance(b, timedelta)
    ):
        try:
            return a - b  # type: ignore[operator]  # checked above: datetime-(datetime|timedelta) / timedelta-timedelta
        except OverflowError as exc:
            raise EvalError(
                "ArgumentOutOfRangeException",
                "The added or subtracted value results in an un-representable DateTime.",
            ) from exc
    raise operand_error("-", a, b)


def _mul(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        r = a * b
        return _wrap_int(r) if isinstance(r, int) else r
    raise operand_error("*", a, b)


def _div(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        if isinstance(a, int) and isinstance(b, int):
            if b == 0:
                raise EvalError("DivideByZeroException", "Attempted to divide by zero.")
            q = abs(a) // abs(b)
            return _wrap_int(q if (a >= 0) == (b >= 0) else -q)
        if b == 0:
            if a == 0 or a != a:
                return float("nan")
            return float("inf") if (a > 0) == (str(float(b))[0] != "-") else float("-inf")
        return a / b
    raise operand_error("/", a, b)


def _mod(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        if b == 0:
            if isinstance(a, int) and isinstance(b, int):
                raise EvalError("DivideByZeroException", "Attempted to divide by zero.")
            return float("nan")
        if isinstance(a, int) and isinstance(b, int):
            r = abs(a) % abs(b)
            return r if a >= 0 else -r
        import math

        return math.fmod(a, b)
    raise operand_error("%", a, b)


def _compare(op: str) -> Callable[[Any, Any], bool]:
    import operator

    fn = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}[op]

    def cmp(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return False
        if (is_number(a) and is_number(b)) or (isinstance(a, Char) and isinstance(b, Char)):
            return bool(fn(a, b))
        if (isinstance(a, datetime) and isinstance(b, datetime)) or (
            isinstance(a, timedelta) and isinstance(b, timedelta)
        ):
            return bool(fn(a, b))
        raise operand_error(op, a, b)

    return cmp


def _bitwise(op: str) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if isinstance(a, bool) and isinstance(b, bool):
            return {"&": a and b, "|": a or b, "^": a != b}[op]
        if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool) and not isinstance(b, bool):
            return {"&": a & b, "|": a | b, "^": a ^ b}[op]
        raise operand_error(op, a, b)

    return apply


BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": add,
    "-": _sub,
    "*": _mul,
    "/": _div,
    "%": _mod,
    "==": equals,
    "!=": lambda a, b: not equals(a, b),
    "<": _compare("<"),
    ">": _compare(">"),
    "<=": _compare("<="),
    ">=": _compare(">="),
    "&": _bitwise("&"),
    "|": _bitwise("|"),
    "^": _bitwise("^"),
}


def _neg(v: Any) -> Any:
    if is_number(v):
        return _wrap_int(-v) if isinstance(v, int) else -v
    if isinstance(v, timedelta):
        return -v
    raise EvalError(
        "InvalidOperationException", f"Operator '-' cannot be applied to operand of type '{type_name(v)}'."
    )


def _plus(v: Any) -> Any:
    if is_number(v):
        return v
    raise EvalError(
        "InvalidOperationException", f"Operator '+' cannot be applied to operand of type '{type_name(v)}'."
    )


def _not(v: Any) -> bool:
    return not require_bool(v, "operand of '!'")


def _complement(v: Any) -> int:
    return ~require_int(v, "operand of '~'")


UNARY: dict[str, Callable[[Any], Any]] = {"-": _neg, "+": _plus, "!": _not, "~": _complement}
