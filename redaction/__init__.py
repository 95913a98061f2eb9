"""Credentials out of log lines: the one redaction every log writer of prmlab applies.

Where it sits: below everything (standard library only). The emulator's process (``emulator.log``,
``requests.jsonl``, its gateway and runner) and the orchestrator (``prmlab``'s log records and
error lines, ``prmlab local logs``) import it; the MCP server, deployed alone from its own folder,
carries a byte-identical copy (``mcp_server/redact.py``, held equal by
``tests/test_redaction.py``). What is redacted, wherever it appears in a line:

- URL query and form parameters that carry credentials (``code``, ``access_token``, ``id_token``,
  ``refresh_token``, ``client_secret``, ``client_assertion``, ``code_verifier``, ``assertion``,
  ``password``, ``state``, ``sig``, ``token``, ``subscription-key``, ``primaryKey``/``secondaryKey``
  (APIM subscription keys); also URL-encoded, as inside
  an encoded ``redirect_uri``);
- the same names as JSON or Python-repr members (``"access_token": "..."``);
- credential headers (``Authorization``, ``Proxy-Authorization``, ``Cookie``, ``Set-Cookie``,
  ``X-IDENTITY-HEADER``, ``Ocp-Apim-Subscription-Key``) written ``name: value`` or ``name=value``;
- ``Bearer``/``Basic`` credentials and anything shaped like a JWT.

``redact(text)`` does it to a string; ``RedactingFormatter`` to every record a logging handler
formats (tracebacks included); ``redact_stdio()`` wraps ``sys.stdout``/``sys.stderr`` of a
process whose output is a log file, so that prints, uvicorn's loggers and uncaught tracebacks
pass through it too.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

REDACTED = "[REDACTED]"

SECRET_PARAMETERS = (
    "code",
    "access_token",
    "id_token",
    "refresh_token",
    "client_secret",
    "client_assertion",
    "code_verifier",
    "assertion",
    "password",
    "state",
    "sig",
    "token",
    "subscription-key",
    # APIM subscription keys as ARM answers them (listSecrets, a subscription's PUT body)
    "primaryKey",
    "secondaryKey",
)
SECRET_HEADERS = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-identity-header",
    "ocp-apim-subscription-key",
)

_NAMES = "|".join(re.escape(name) for name in SECRET_PARAMETERS)
# name=value in a query string or a form body, also URL-encoded once (name%3Dvalue%26...).
_PARAMETER = re.compile(
    rf"(?i)(?:(?<![A-Za-z0-9_.-])|(?<=%3F)|(?<=%26))({_NAMES})(=|%3D)"
    rf"(?!\[REDACTED\])((?:(?!%26)[^&\s\"'<>#;,)\]}}])+)"
)
# "name": "value" (JSON) and 'name': 'value' (Python repr).
_MEMBER = re.compile(
    rf"(?i)([\"'])({_NAMES}|{'|'.join(SECRET_HEADERS)})\1(\s*:\s*)([\"'])((?:\\.|(?!\4).)*)\4"
)
_HEADER = re.compile(rf"(?i)(?<![A-Za-z0-9_-])({'|'.join(SECRET_HEADERS)})(\s*[:=]\s*)([^\r\n\"',}}]+)")
_SCHEME = re.compile(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9\-._~+/]{8,}=*)(?![\w=])")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def redact(text: str) -> str:
    """``text`` with every credential it recognises replaced by ``[REDACTED]``."""
    # Idempotent (a line may pass a formatter and a redacting stream): no rule matches its output.
    text = _PARAMETER.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
    text = _MEMBER.sub(lambda m: f"{m[1]}{m[2]}{m[1]}{m[3]}{m[4]}{REDACTED}{m[4]}", text)
    text = _HEADER.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
    text = _SCHEME.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
    return _JWT.sub(REDACTED, text)


class RedactingFormatter(logging.Formatter):
    """A ``logging.Formatter`` whose output (message, traceback, stack) is redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingStream:
    """A text stream that redacts each line before it reaches ``target``.

    Whole lines are redacted (a credential is never split between two writes of one line);
    ``flush`` passes on a pending partial line, so nothing is held back longer than the writer
    asks.
    """

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self._pending = ""

    def write(self, text: str) -> int:
        data = self._pending + text
        head, newline, self._pending = data.rpartition("\n")
        if newline:
            self.target.write(redact(head + newline))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.target.write(redact(self._pending))
            self._pending = ""
        self.target.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, buffer...
        return getattr(self.target, name)


def redact_stdio() -> None:
    """Route this process's ``sys.stdout`` and ``sys.stderr`` through ``redact`` (idempotent).

    Call it first thing in ``main`` of a process whose output is a log file: logging handlers
    created afterwards (``basicConfig``, uvicorn's ``ext://sys.stderr``) write through it.
    """
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)
