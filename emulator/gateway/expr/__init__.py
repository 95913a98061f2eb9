"""C# policy-expression subset of the local APIM gateway.

Flow: ``lexer.tokenize`` -> ``parser`` (AST of ``expr.ast``; over a token ``cursor``, in the
``words`` of the subset) -> ``compiler.compile_expression`` (checked against ``surface``: the
names the subset may use; closures built once per stored policy, C# ``operators``) ->
``CompiledExpression.evaluate(context)`` per request, over the ``context`` model of
``expr.context`` and the .NET library of ``expr.netlib`` (values: ``expr.values``, JSON:
``expr.jsonmodel``).
"""

from emulator.gateway.expr.compiler import CompiledExpression, compile_expression
from emulator.gateway.expr.lexer import ExpressionSyntaxError
from emulator.gateway.expr.values import EvalError, to_string

__all__ = ["CompiledExpression", "EvalError", "ExpressionSyntaxError", "compile_expression", "to_string"]
