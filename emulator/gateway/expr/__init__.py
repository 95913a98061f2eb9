"""C# policy-expression subset of the local APIM gateway.

Flow: ``lexer.tokenize`` -> ``parser`` (AST) -> ``compiler.compile_expression`` (checked
closures, once per stored policy) -> ``CompiledExpression.evaluate(context)`` per request,
over the ``context`` model of ``expr.context`` and the .NET surface of ``expr.netlib``.
"""

from emulator.gateway.expr import context as context  # registers the object model's members
from emulator.gateway.expr.compiler import CompiledExpression, compile_expression
from emulator.gateway.expr.lexer import ExpressionSyntaxError
from emulator.gateway.expr.values import EvalError, to_string

__all__ = ["CompiledExpression", "EvalError", "ExpressionSyntaxError", "compile_expression", "to_string"]
