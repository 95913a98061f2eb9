"""Credentials never reach a log line (issue 17 item 8): the shared redaction and its copy.

One table of lines goes through ``redaction.redact`` and ``mcp_server.redact.redact`` (the copy
the server carries because it is deployed alone); the two modules must stay identical below
their docstrings. The wiring of each log writer is tested where the writer lives
(``tests/emulator/runner/test_with_emulator.py`` for the app log through the real runner,
``tests/emulator/test_reqlog.py``, ``tests/orchestrator/commands/test_local_logs.py``); here also
the processes' stdio and the orchestrator's log handler.
"""

from __future__ import annotations

import ast
import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import mcp_server.redact
import redaction
from redaction import REDACTED, RedactingFormatter, RedactingStream

ROOT = Path(__file__).resolve().parents[1]
JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyIiwiYXVkIjoiYXBwIn0.c2lnbmF0dXJlLXZhbHVl"

# (line, what must be gone, what must stay)
CASES: list[tuple[str, list[str], list[str]]] = [
    (
        '127.0.0.1:50432 - "GET /auth/callback?code=0.AXoA-secretcode_1&state=st4te&session_state=x HTTP/1.1" 200',
        ["0.AXoA-secretcode_1", "st4te"],
        ["/auth/callback?code=[REDACTED]&state=[REDACTED]&session_state=x", "200"],
    ),
    (f'"POST /mcp?access_token={JWT} HTTP/1.1" 401', [JWT, "eyJ"], ["/mcp?access_token=[REDACTED]"]),
    (
        "grant_type=authorization_code&code=c0de&client_secret=s3cret&code_verifier=v3rifier"
        "&client_assertion=a5sert&refresh_token=r3fresh&id_token=1dtoken&redirect_uri=https%3A%2F%2Fx%2Fcb",
        ["c0de", "s3cret", "v3rifier", "a5sert", "r3fresh", "1dtoken"],
        ["grant_type=authorization_code", "redirect_uri=https%3A%2F%2Fx%2Fcb"],
    ),
    (
        "location: https%3A%2F%2Fapp%2Fcb%3Fcode%3Dencodedc0de%26state%3Dencst%26x%3D1",
        ["encodedc0de", "encst"],
        ["%26x%3D1"],
    ),
    (
        '{"access_token": "at-value", "token_type": "Bearer", "expires_in": 3599, "refresh_token":"rt-value"}',
        ["at-value", "rt-value"],
        ['"token_type": "Bearer"', '"expires_in": 3599'],
    ),
    (
        "{'Authorization': 'Bearer abcdefghijklmnop', 'Accept': '*/*'}",
        ["abcdefghijklmnop"],
        ["'Accept': '*/*'"],
    ),
    ("Authorization: Basic dXNlcjpwYXNzd29yZA==", ["dXNlcjpwYXNzd29yZA"], ["Authorization: "]),
    ("x-identity-header: 3c9f0e1d2b7a", ["3c9f0e1d2b7a"], ["x-identity-header: "]),
    (
        "https://acct.table.core.windows.net/t?sv=2023&sig=AbC%2Bd%3D&se=2030",
        ["AbC%2Bd%3D"],
        ["sv=2023", "se=2030"],
    ),
    (f"token refused, it was {JWT} (expired)", [JWT], ["token refused", "(expired)"]),
    (  # ARM's listSecrets of an APIM subscription; the key header at the gateway
        '{"primaryKey": "0a1b2c3d4e5f", "secondaryKey": "f5e4d3c2b1a0", "scope": "/products/p"} '
        "Ocp-Apim-Subscription-Key: 9e8d7c6b5a4f",
        ["0a1b2c3d4e5f", "f5e4d3c2b1a0", "9e8d7c6b5a4f"],
        ['"scope": "/products/p"'],
    ),
    # Left alone: no credential.
    (
        'WWW-Authenticate: Bearer error="invalid_token", resource_metadata="https://g/.well-known/x"',
        [],
        ['Bearer error="invalid_token", resource_metadata="https://g/.well-known/x"'],
    ),
    ("exit code 2, status=200, postcode=12345, zipcode=9", [], ["exit code 2, status=200, postcode=12345"]),
]


@pytest.mark.parametrize("module", [redaction, mcp_server.redact], ids=["shared", "mcp_server copy"])
@pytest.mark.parametrize(("line", "gone", "kept"), CASES)
def test_credentials_are_redacted_and_the_rest_kept(
    module: object, line: str, gone: list[str], kept: list[str]
) -> None:
    out: str = module.redact(line)  # type: ignore[attr-defined]
    for secret in gone:
        assert secret not in out, out
    for text in kept:
        assert text in out, out
    assert (REDACTED in out) == bool(gone)
    assert module.redact(out) == out  # type: ignore[attr-defined]  # idempotent


def _body(path: Path) -> str:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert isinstance(tree.body[0], ast.Expr)  # the module docstring
    return "\n".join(ast.unparse(node) for node in tree.body[1:])


def test_the_mcp_server_copy_is_the_shared_module() -> None:
    assert _body(ROOT / "mcp_server" / "redact.py") == _body(ROOT / "redaction" / "__init__.py")


def test_a_stream_redacts_whole_lines_and_flushes_partial_ones() -> None:
    target = io.StringIO()
    stream = RedactingStream(target)
    stream.write("GET /cb?co")
    stream.write("de=secretvalue&x=1 200\nnext ")
    assert target.getvalue() == "GET /cb?code=[REDACTED]&x=1 200\n"
    stream.write("Bearer abcdefghijklmnopq")
    stream.flush()
    assert target.getvalue().endswith("next Bearer [REDACTED]")


def test_the_formatter_redacts_messages_and_tracebacks() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "callback %s", ("/cb?code=abc123",), None)
    try:
        raise ValueError("refresh_token=r3fresh")
    except ValueError:
        record.exc_info = sys.exc_info()
    out = RedactingFormatter("%(message)s").format(record)
    assert "abc123" not in out
    assert "r3fresh" not in out
    assert "ValueError: refresh_token=[REDACTED]" in out


@pytest.mark.parametrize("module", ["emulator", "mcp_server"])
def test_the_processes_redact_their_stdio_before_anything_is_logged(module: str) -> None:
    """``python -m emulator`` / ``python -m mcp_server`` call ``redact_stdio()`` first in ``main``:
    prints, log records (``basicConfig``, uvicorn's handlers) and tracebacks go through it."""
    probe = f"""
import logging, sys
import {module}.__main__ as entry
def stop(*args, **kwargs):
    logging.getLogger("probe").error("GET /auth/callback?code=probe-secret HTTP/1.1")
    print("Authorization: Bearer probe-bearer-secret")
    raise SystemExit(0)
real = logging.basicConfig
entry.logging.basicConfig = lambda **kw: (real(**kw), stop())
try:
    entry.main({'["--state-dir", "/nonexistent-never-created"]' if module == "emulator" else ""})
except SystemExit:
    pass
"""
    env = {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "REQUIRED_SCOPE": "s", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=False,
    )
    output = result.stdout + result.stderr
    assert "code=[REDACTED]" in output, output
    assert "probe-secret" not in output
    assert "probe-bearer-secret" not in output


def test_prmlab_log_records_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    from orchestrator.cli import _OneLine

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine("%(name)s: %(levelname)s: %(message)s"))
    logger = logging.getLogger("azure.test-redaction")
    logger.addHandler(handler)
    try:
        logger.warning("request to https://login/t/oauth2/token?client_secret=sh0uldnotshow failed")
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    assert "sh0uldnotshow" not in err
    assert "client_secret=[REDACTED]" in err
