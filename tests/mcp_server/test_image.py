"""The container image's inputs: requirements cover every third-party import of the server."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import mcp_server

PACKAGE = Path(mcp_server.__file__).parent
# import name -> distribution name, where they differ
DISTRIBUTIONS = {"jwt": "pyjwt", "azure": "azure-identity"}


def _third_party_imports() -> set[str]:
    names: set[str] = set()
    for source in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("mcp_server", "__future__")}


def test_requirements_cover_the_server_imports() -> None:
    lines = (PACKAGE / "requirements.txt").read_text().splitlines()
    listed = {
        re.split(r"[\[<>=;\s]", line.strip(), maxsplit=1)[0].lower()
        for line in lines
        if line.strip() and not line.startswith("#")
    }
    missing = {DISTRIBUTIONS.get(n, n) for n in _third_party_imports()} - listed
    assert not missing, f"add to mcp_server/requirements.txt: {sorted(missing)}"


def test_dockerfile_runs_the_module_as_non_root_on_all_interfaces() -> None:
    text = (PACKAGE / "Dockerfile").read_text()
    assert re.search(r"^USER 10001$", text, re.MULTILINE)
    assert 'CMD ["python", "-m", "mcp_server"]' in text
    assert "HOST=0.0.0.0" in text
    assert "FROM python:3.11-slim" in text
