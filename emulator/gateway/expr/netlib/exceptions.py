"""``System.Exception`` for expressions: ``new Exception(message)``, ``throw``, ``catch (Exception ex)``.

The only exception type API Management's list of allowed .NET types names (Learn, "API
Management policy expressions", ".NET Framework types allowed in policy expressions"). A caught
exception of the evaluation (a ``values.EvalError``: ``FormatException``, ``JsonReaderException``,
…) reaches the ``catch`` variable as an ``ExceptionObj`` carrying its .NET type name and message.
"""

from __future__ import annotations

from emulator.gateway.expr.netlib.statics import StaticTable, StaticType
from emulator.gateway.expr.values import EvalError, NetObject, to_string


class ExceptionObj(NetObject):
    NET_TYPE = "Exception"
    NET_CASTABLE = True
    NET_PROPS = frozenset({"Message", "InnerException", "Source", "StackTrace", "HResult"})

    def __init__(self, type_name: str, message: str, inner: object = None) -> None:
        self.type_name = type_name
        self.Message = message
        self.InnerException = inner
        self.Source = None
        self.StackTrace = None
        self.HResult = -2146233088  # COR_E_EXCEPTION

    def net_str(self) -> str:
        return f"System.{self.type_name}: {self.Message}"


def _new_exception(message: object = None, inner: object = None) -> ExceptionObj:
    if inner is not None and not isinstance(inner, ExceptionObj):
        raise EvalError("ArgumentException", "innerException must be an Exception.")
    text = "Exception of type 'System.Exception' was thrown." if message is None else to_string(message)
    return ExceptionObj("Exception", text, inner)


STATIC: StaticTable = ((("Exception",), StaticType("Exception", {}, {}, ctor=_new_exception)),)
