"""A real browser for the tests: Debian's Chromium driven by Playwright, trusting the lab CA.

Where it sits: tests that click through a web UI as a person does (MCP Inspector's web client
against the gateway-mode lab, ``tests/orchestrator/verify/test_gateway_mode.py``) take a browser
from here. Playwright's own browser download cannot reach its CDN from this project's machines,
so the system ``chromium`` (``make browser`` installs it with ``apt-get``; ``PRMLAB_CHROMIUM``
names another binary) is launched through Playwright's ``executable_path``.

Trust is real, not switched off: Chromium on Linux reads the user's NSS database
(``$HOME/.pki/nssdb``), so the browser is started with ``HOME`` pointing at a fresh folder whose
database holds the lab CA as a trusted issuer (``certutil``, Debian's ``libnss3-tools``). No
``--ignore-certificate-errors``: a certificate the lab CA did not sign still fails.

A missing browser or ``certutil`` fails the test with the install hint (``pytest.fail``): CI must
never pass by skipping the browser test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

INSTALL_HINT = (
    "install Debian's chromium and libnss3-tools: `make browser` "
    "(apt-get install -y chromium libnss3-tools), or set PRMLAB_CHROMIUM to a Chromium binary"
)
ROOT = Path(__file__).resolve().parents[2]


def chromium_path() -> str:
    """The Chromium binary to drive (PRMLAB_CHROMIUM, else ``chromium`` on PATH), or fail the
    test with the install hint."""
    named = os.environ.get("PRMLAB_CHROMIUM")
    if named:
        if not Path(named).is_file():
            pytest.fail(f"PRMLAB_CHROMIUM={named} is not a file ({INSTALL_HINT})")
        return named
    found = shutil.which("chromium")
    if found is None:
        pytest.fail(f"no chromium on PATH: the browser test needs a real browser ({INSTALL_HINT})")
    return found


def trusting_home(folder: Path, ca_file: Path) -> Path:
    """A HOME whose NSS database trusts ``ca_file`` as an issuer of server certificates."""
    certutil = shutil.which("certutil")
    if certutil is None:
        pytest.fail(
            f"certutil is missing, so the browser cannot be made to trust the lab CA ({INSTALL_HINT})"
        )
    nssdb = folder / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    db = f"sql:{nssdb}"
    subprocess.run([certutil, "-d", db, "-N", "--empty-password"], check=True, capture_output=True)
    subprocess.run(
        [certutil, "-d", db, "-A", "-t", "C,,", "-n", "prmlab lab CA", "-i", str(ca_file)],
        check=True,
        capture_output=True,
    )
    return folder


def artifacts_dir() -> Path:
    """Where tests leave what a person looks at after a run (screenshots): PRMLAB_ARTIFACTS, else
    ``build/test-artifacts`` of the checkout (``.ci/run`` prints the folder)."""
    folder = Path(os.environ.get("PRMLAB_ARTIFACTS") or ROOT / "build" / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def chromium(home: Path) -> Iterator[Browser]:
    """A headless Chromium (Playwright ``Browser``) whose HOME is ``home`` (its NSS trust)."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            env={**os.environ, "HOME": str(home)},
        )
        try:
            yield browser
        finally:
            browser.close()
