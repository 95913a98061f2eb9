"""The real-browser support (``tests/support/browser.py``) fails — never skips — without a browser,
and makes a browser profile that trusts exactly the CA it is given."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from emulator.tls import ensure_tls
from tests.support import browser


def test_a_missing_browser_fails_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PRMLAB_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium anywhere
    with pytest.raises(pytest.fail.Exception, match=r"make browser.*apt-get install -y chromium"):
        browser.chromium_path()
    monkeypatch.setenv("PRMLAB_CHROMIUM", str(tmp_path / "nothing-here"))
    with pytest.raises(pytest.fail.Exception, match="is not a file"):
        browser.chromium_path()


@pytest.mark.skipif(shutil.which("certutil") is None, reason="covered by the browser test's own failure")
def test_the_profile_trusts_the_lab_ca(tmp_path: Path) -> None:
    ca = ensure_tls(tmp_path / "state").ca_file  # the emulator's own CA files
    home = browser.trusting_home(tmp_path / "home", ca)
    listed = subprocess.run(
        ["certutil", "-d", f"sql:{home / '.pki' / 'nssdb'}", "-L"], capture_output=True, text=True, check=True
    ).stdout
    assert "prmlab lab CA" in listed
    assert "C,," in listed  # trusted to issue server certificates, nothing more
