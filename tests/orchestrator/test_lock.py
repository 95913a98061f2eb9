"""The reconcile lock: a second holder fails fast naming the first; death releases it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.errors import LockError
from orchestrator.lock import LOCK_FILE, hold_lock

_HOLDER = """
import sys, pathlib
from orchestrator.lock import hold_lock
with hold_lock(pathlib.Path(sys.argv[1]), command="prmlab reconcile --destroy"):
    print("locked", flush=True)
    sys.stdin.readline()
"""


def _start_holder(state_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(state_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"  # blocks until the child holds the lock
    return proc


def test_second_holder_fails_fast_and_names_the_first(tmp_path: Path) -> None:
    proc = _start_holder(tmp_path)
    try:
        with pytest.raises(LockError) as info, hold_lock(tmp_path):
            pytest.fail("acquired a lock another process holds")
        message = info.value.message
        assert f"pid {proc.pid}" in message
        assert socket.gethostname() in message
        assert "prmlab reconcile --destroy" in message
        assert str(tmp_path / LOCK_FILE) in message
    finally:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.close()
        proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()
    # released by the holder: now we get it
    with hold_lock(tmp_path) as path:
        assert f'"pid": {os.getpid()}' in path.read_text()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    proc = _start_holder(tmp_path)
    proc.kill()
    proc.wait(timeout=10)
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.close()
    proc.stdout.close()
    with hold_lock(tmp_path) as path:
        assert path.exists()


def test_lock_is_released_on_error_and_the_file_is_kept(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), hold_lock(tmp_path):
        raise RuntimeError("boom")
    assert (tmp_path / LOCK_FILE).exists()
    assert (tmp_path / LOCK_FILE).read_text() == ""
    with hold_lock(tmp_path):
        pass


def test_same_process_second_lock_is_refused(tmp_path: Path) -> None:
    # flock locks belong to the open file description: a second open in the same process conflicts too
    with hold_lock(tmp_path), pytest.raises(LockError, match=f"pid {os.getpid()}"), hold_lock(tmp_path):
        pass
