"""The policy-expression corpus (data/expressions.txt): each expression compiled once, evaluated
against a fixed ``context``, its value's ``ToString()`` compared with the expected text (or the
.NET exception it must raise)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from emulator.gateway.expr import EvalError, compile_expression, to_string
from emulator.gateway.expr.context import Context, sample_context
from emulator.gateway.expr.netlib import NetDict

CORPUS = Path(__file__).parent / "data" / "expressions.txt"
BODY = {"name": "Ada", "tags": ["a", "b"], "n": 3, "nested": {"k": "v"}}


def _b64(value: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


JWT = ".".join(
    [
        _b64({"alg": "RS256", "typ": "JWT"}),
        _b64(
            {
                "iss": "https://issuer.example/v2.0",
                "sub": "s1",
                "aud": "api://demo",
                "exp": 2_000_000_000,
                "scp": "read write",
                "roles": ["r1", "r2"],
                "jti": "token-1",
            }
        ),
        "c2ln",
    ]
)


def context() -> Context:
    ctx = sample_context(
        method="POST",
        url="https://contoso.azure-api.net/mcp/items/42?x=1&y=two",
        headers=[
            ("Authorization", f"Bearer {JWT}"),
            ("Content-Type", "application/json"),
            ("X-Multi", "a"),
            ("X-Multi", "b"),
        ],
        body=json.dumps(BODY, separators=(",", ":")).encode(),
    )
    ctx.Request.MatchedParameters = NetDict({"id": "42"})
    assert ctx.Operation is not None
    ctx.Operation.UrlTemplate = "/items/{id}"
    ctx.Variables.set("count", 5)
    ctx.Variables.set("name", "ada")
    ctx.Variables.set("flag", True)
    return ctx


def load() -> list[tuple[int, str, str]]:
    cases = []
    for number, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        expr, sep, expected = line.rpartition(" => ")
        assert sep, f"line {number}: no ' => '"
        cases.append((number, expr.strip(), expected.replace("\\n", "\n")))
    return cases


CASES = load()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 150


@pytest.mark.parametrize(("line", "expression", "expected"), CASES, ids=[f"L{c[0]}" for c in CASES])
def test_expression(line: int, expression: str, expected: str) -> None:
    assert expression.startswith("@")
    compiled = compile_expression(expression[1:])
    if expected.startswith("!"):
        with pytest.raises(EvalError) as info:
            compiled.evaluate(context())
        assert info.value.type_name == expected[1:], info.value.message
        return
    assert to_string(compiled.evaluate(context())) == expected
