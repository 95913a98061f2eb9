"""Control flow and failures of the policy pipeline (shared by ``policy``, ``elements``, ``engine``).

* ``PolicyCompileError`` — a stored policy the local gateway cannot run (PUT-time refusal).
* ``PolicyFailure`` — a policy failed at request time; the engine records it as
  ``context.LastError`` and runs ``on-error`` (APIM's error flow).
* ``ReturnResponse`` — ``return-response`` / ``mock-response`` / a terminating policy ended the
  pipeline; the current ``context.Response`` goes to the client.
"""

from __future__ import annotations


class PolicyCompileError(Exception):
    def __init__(self, element: str, line: int, message: str) -> None:
        super().__init__(f"Error in element '{element}' on line {line}: {message}")
        self.element = element
        self.line = line
        self.message = message

    def apim_message(self) -> str:
        return f"Error in element '{self.element}' on line {self.line}: {self.message}"


class PolicyFailure(Exception):  # noqa: N818 - APIM's term: a policy failure, handled by on-error
    def __init__(self, source: str, reason: str, message: str, policy_id: str = "") -> None:
        super().__init__(f"{source}: {reason}: {message}")
        self.source = source
        self.reason = reason
        self.message = message
        self.policy_id = policy_id


class ReturnResponse(Exception):  # noqa: N818 - control flow, not an error
    """The pipeline ends here; the engine answers with ``context.Response``."""
