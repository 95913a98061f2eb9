"""The one error tree of prmlab.

Every error a user can see is a ``PrmlabError``; third-party exceptions are
translated at the boundary that catches them (``raise ... from exc``) so the CLI
can print one clear sentence and choose the exit code without a traceback::

    PrmlabError                      exit 1 unless stated
    ├── SpecError                    exit 2: lab.yaml is wrong; carries SpecIssue list
    ├── RenderError                  a policy template failed to render or is not well-formed XML
    ├── TargetError                  cannot reach / authenticate to the target
    │   └── EmulatorError            the local emulator could not start or died
    ├── GlobalNameError              a global name the plan would create is taken (checked first)
    ├── PreflightError               sign-in, resource providers or rights missing (checked first)
    ├── ResourceError                one resource failed; names the resource and the cause
    │   ├── OwnershipError           a same-named resource exists that the lab does not own
    │   ├── PermanentError           retrying is useless (400, 403, 404 on a parent, ...)
    │   └── TemporaryError           retry may help (429, 5xx, 409 conflict, replication)
    │       └── NotInEffectError     accepted, not in effect yet (RBAC propagation): probed again
    ├── LockError                    another reconcile of this lab holds the lock
    └── VerificationError            one or more verification checks failed

Messages never contain secret values, and never raw control or separator characters:
``printable`` escapes them (a NUL, an ANSI escape or U+2028 copied from lab.yaml into a message
would otherwise reach the terminal as is).
"""

from __future__ import annotations

from dataclasses import dataclass


def printable(text: str, keep: str = "") -> str:
    """``text`` with every character Python does not consider printable escaped as ``repr``
    would (``\\x00``, ``\\u2028``, ``\\x1b``...), except those in ``keep`` and the plain space."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in keep else repr(c)[1:-1] for c in text)


class PrmlabError(Exception):
    """Base of every error prmlab reports to a user."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class SpecIssue:
    """One problem in lab.yaml, located as ``file:line:col: yaml.path: message``."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __post_init__(self) -> None:
        # Keys, values and file names in messages come from the file: escape what would not print.
        for name in ("file", "path", "message"):
            object.__setattr__(self, name, printable(getattr(self, name)))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class SpecError(PrmlabError):
    """lab.yaml cannot be loaded; every issue found is reported at once."""

    exit_code = 2

    # Past this many, more issues help nobody: the first ones by position and a count are kept.
    max_issues = 100

    def __init__(self, issues: list[SpecIssue]) -> None:
        ordered = sorted(issues, key=lambda i: (i.file, i.line, i.column, i.path))
        if len(ordered) > self.max_issues:
            first_left_out = ordered[self.max_issues]
            more = len(ordered) - self.max_issues
            ordered = [
                *ordered[: self.max_issues],
                SpecIssue(
                    first_left_out.file,
                    first_left_out.line,
                    first_left_out.column,
                    "",
                    f"... and {more} more issues (fix these first)",
                ),
            ]
        self.issues = tuple(ordered)
        super().__init__("\n".join(str(i) for i in self.issues))


class RenderError(PrmlabError):
    """A policy template could not be rendered into well-formed XML."""


class TargetError(PrmlabError):
    """The target (Azure or the local emulator) cannot be reached or refused our credentials."""


class EmulatorError(TargetError):
    """The local emulator could not be started, or is not answering."""


class GlobalNameError(PrmlabError):
    """A global name (APIM service, registry, storage account) the plan would create is taken or
    refused by the provider's ``checkNameAvailability``: one line per name, before any write."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = tuple(lines)


class PreflightError(PrmlabError):
    """The read-only preflight found problems (sign-in, resource providers, rights): one line
    each with its fix, before any write (``orchestrator.preflight``)."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("preflight:\n" + "\n".join(lines))
        self.lines = tuple(lines)


class ResourceError(PrmlabError):
    """An operation on one named resource failed."""

    def __init__(self, resource: str, message: str) -> None:
        super().__init__(f"{resource}: {message}")
        self.resource = resource
        self.cause = message


class OwnershipError(ResourceError):
    """A resource with the lab's name exists but carries no ownership mark of this lab."""


class PermanentError(ResourceError):
    """The target refused the operation in a way retrying cannot fix."""


class TemporaryError(ResourceError):
    """The operation may succeed if retried, after ``delay`` seconds when known."""

    def __init__(self, resource: str, message: str, delay: float | None = None) -> None:
        super().__init__(resource, message)
        self.delay = delay


class NotInEffectError(TemporaryError):
    """A change the target accepted has not taken effect yet (a role assignment propagating):
    the operation that needs it is probed again (``retry``: bounded by ``limit`` seconds from the
    first refusal, waits growing with the time already waited), and the progress says what it
    waits for (``waiting_for``)."""

    def __init__(self, resource: str, message: str, waiting_for: str, limit: float) -> None:
        super().__init__(resource, message)
        self.waiting_for = waiting_for
        self.limit = limit


class LockError(PrmlabError):
    """Another prmlab process holds this lab's lock."""


class VerificationError(PrmlabError):
    """At least one verification check failed."""
