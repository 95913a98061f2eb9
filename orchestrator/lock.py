"""The reconcile lock: one reconcile (or destroy) of a lab at a time.

Flow: ``engine`` takes the lock on ``<state dir>/reconcile.lock`` before reading the target and
holds it until the summary is printed. An ``fcntl.flock`` on the open file is the lock itself —
the kernel releases it when the process dies, so a crashed or killed run never leaves a stale
lock behind. The holder's pid, host and start time are written inside the file only so that the
second process can say who holds it; the file is never deleted (deleting a flock'ed file lets two
processes lock two different inodes).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.errors import LockError

LOCK_FILE = "reconcile.lock"


def _describe_holder(text: str) -> str:
    try:
        info = json.loads(text)
        return (
            f"pid {int(info['pid'])} on {info['host']} (running `{info.get('command', 'prmlab reconcile')}` "
            f"since {info['started_at']})"
        )
    except (ValueError, KeyError, TypeError):
        return "an unknown process"


@contextlib.contextmanager
def hold_lock(state_dir: Path, command: str = "prmlab reconcile") -> Iterator[Path]:
    """Hold the lab's reconcile lock for the duration of the ``with`` block.

    Fails fast (no waiting) with ``LockError`` naming the holder when another process holds it.
    """
    from orchestrator.local import ensure_state_dir

    ensure_state_dir(state_dir)
    path = state_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe_holder(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
            raise LockError(
                f"another reconcile of this lab is running: {holder}. "
                f"Wait for it to finish (or stop it); the lock is {path}"
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": command,
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
