"""The ``prmlab`` entry point: library log records are one line, never a traceback (issue 17.6:
the MCP SDK logs "OAuth flow error" with its traceback before the verifier reports the failure)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROGRAM = """
import logging, sys, types
import click
from orchestrator import cli

@click.command("boom")
def boom() -> int:
    try:
        raise RuntimeError("token endpoint answered 429")
    except RuntimeError:
        logging.getLogger("mcp.client.auth.oauth2").exception("OAuth flow error")
    logging.getLogger("some.library").info("chatter below WARNING is not shown")
    return 0

module = types.ModuleType("boom_command")
module.command = boom
sys.modules["boom_command"] = module
cli._COMMANDS["boom"] = ("boom_command", "log like a library does")
cli.main(["boom"])
"""


def test_library_errors_are_one_line_without_a_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == ["mcp.client.auth.oauth2: ERROR: OAuth flow error"]
