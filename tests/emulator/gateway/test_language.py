"""The C# of policy expressions beyond single expressions (``expr.statements``, ``expr.flow``)
and API Management's list of allowed .NET types (``expr.words``): what is refused when the
policy is stored, by name. What evaluates, and to what, is the corpus (data/expressions.txt)."""

from __future__ import annotations

import pytest

from emulator.gateway.expr import ExpressionSyntaxError, compile_expression
from emulator.gateway.expr.frame import MAX_STEPS


@pytest.mark.parametrize(
    ("source", "message"),
    [
        # types outside API Management's list (Learn: ".NET Framework types allowed in policy expressions")
        ("(Environment.NewLine)", "'System.Environment' is not allowed in policy expressions"),
        ('(System.IO.File.ReadAllText("/etc/passwd"))', "'System.IO.File' is not allowed"),
        ("(CultureInfo.InvariantCulture.Name)", "'System.Globalization.CultureInfo' is not allowed"),
        (
            "(System.Globalization.CultureInfo.InvariantCulture)",
            "'System.Globalization.CultureInfo' is not allowed",
        ),
        ("(new HttpClient())", "'System.Net.Http.HttpClient' is not allowed"),
        ("{ Aes a = null; return 1; }", "'System.Security.Cryptography.Aes' is not allowed"),
        (
            "(RandomNumberGenerator.GetInt32(5))",
            "'System.Security.Cryptography.RandomNumberGenerator' is not allowed",
        ),
        ("(System.Diagnostics.Process.GetCurrentProcess())", "'System.Diagnostics.Process' is not allowed"),
        ('(context.Variables.GetValueOrDefault<Type>("t"))', "'System.Type' is not allowed"),
        ("{ try { return 1; } catch (FormatException) { return 2; } }", "'FormatException' is not allowed"),
        # allowed by API Management, not implemented here: named as such
        ('(XDocument.Parse("<a/>"))', "not supported by the local gateway"),
        # C# rules the local gateway keeps
        ("{ break; return 1; }", "No enclosing loop out of which to break"),
        ("{ throw; }", "not allowed outside of a catch clause"),
        (
            "{ int F(int a) { if (a > 0) { return 1; } } return F(1); }",
            "'F': not all code paths return a value",
        ),
        ("{ int F(int a) => a; int F(int b) => b; return 1; }", "'F' is already defined"),
        ("{ int F(int a) => a; return F(1, 2); }", "No overload for method 'F' takes 2 arguments"),
        ("{ try { return 1; } finally { return 2; } }", "Control cannot leave the body of a finally clause"),
        ("{ switch (1) { case 1: var a = 1; default: return 2; } return 3; }", "Control cannot fall through"),
        ("{ switch (context) { case string s: return 1; } return 0; }", "Patterns in 'case' labels"),
        ("{ lock (context) { } return 1; }", "The 'lock' statement is not supported"),
        ("{ checked { return 1; } }", "The 'checked' statement is not supported"),
        (
            "{ var o = new JObject { Nope = 1 }; return o; }",
            "'Nope' is not a member the local gateway supports",
        ),
        ("{ try { return 1; } }", "'catch' or 'finally' expected"),
    ],
)
def test_refused_by_name(source: str, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as info:
        compile_expression(source)
    assert message in info.value.message


def test_a_non_breaking_space_is_whitespace() -> None:
    for space in ("\u00a0", "\u2003", "\u202f"):
        assert compile_expression(f"({space}1{space}+{space}2)").evaluate(None) == 3


def test_budget_is_not_catchable() -> None:
    """An endless loop inside ``try`` still ends: the budget's exception passes every catch."""
    expr = compile_expression("{ try { for (;;) { } } catch (Exception) { return 1; } }")
    with pytest.raises(Exception, match="loop iterations or calls") as info:
        expr.evaluate(None)
    assert type(info.value).__name__ == "BudgetExceededError"
    assert MAX_STEPS == 100_000


def test_recursion_ends_as_a_dotnet_exception() -> None:
    from emulator.gateway.expr import EvalError

    expr = compile_expression("{ int F(int n) => F(n + 1); return F(0); }")
    with pytest.raises(EvalError) as info:
        expr.evaluate(None)
    assert info.value.type_name in ("InsufficientExecutionStackException", "InvalidOperationException")
