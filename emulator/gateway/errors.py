"""Control flow and failures of the policy pipeline (shared by ``policy``, ``elements``, ``engine``).

* ``PolicyCompileError`` — a stored policy the local gateway cannot run (PUT-time refusal).
* ``PolicyFailure`` — a policy failed at request time; the engine records it as
  ``context.LastError`` and runs ``on-error`` (APIM's error flow).
* ``ReturnResponse`` — ``return-response`` / ``mock-response`` / a terminating policy ended the
  pipeline; the current ``context.Response`` goes to the client.
"""

from __future__ import annotations


class PolicyCompileError(Exception):
    """APIM's form (as its ValidationError details show it): ``Error in element 'choose' on
    line 15, column 4: <message>`` — the line and column in the document as the user wrote it
    (``source``); ``column`` 0 when unknown."""

    def __init__(self, element: str, line: int, message: str, column: int = 0) -> None:
        self.element = element
        self.line = line
        self.column = column
        self.message = message
        super().__init__(self.apim_message())

    def apim_message(self) -> str:
        where = f"line {self.line}, column {self.column}" if self.column > 0 else f"line {self.line}"
        return f"Error in element '{self.element}' on {where}: {self.message}"


class PolicyFailure(Exception):  # noqa: N818 - APIM's term: a policy failure, handled by on-error
    def __init__(self, source: str, reason: str, message: str, policy_id: str = "") -> None:
        super().__init__(f"{source}: {reason}: {message}")
        self.source = source
        self.reason = reason
        self.message = message
        self.policy_id = policy_id
        # the scope of the policy that failed (global | product | api | operation: Learn's
        # LastError.Scope), set on the way out by the top-level step it happened in
        self.scope = ""


class ReturnResponse(Exception):  # noqa: N818 - control flow, not an error
    """The pipeline ends here; the engine answers with ``context.Response``."""
