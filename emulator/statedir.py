"""The state folder is private: 0700 for every folder in it, 0600 for every file.

Where it sits: ``python -m emulator`` (``emulator.__main__``) calls ``make_private`` first thing,
before it takes the state lock or opens anything. The folder holds secrets — the SQLite store
(secret named values, container-app secrets, test-user passwords, listKeys results), the CA and
server keys, the identity signing keys, the request and app logs — so no other local user may
read any of it.

Two halves, one rule:

* ``PRIVATE_UMASK`` (``0o077``) is set for the whole emulator process, so everything it creates
  afterwards is private whoever creates it: SQLite's ``-wal``/``-shm`` files, uvicorn, the runner's
  ``apps/`` logs, ACR uploads, and the container-app processes it starts (they inherit it).
* ``make_private`` tightens what already exists: a folder made by an older version, by
  ``mkdir``, or restored from a backup with looser modes. Symbolic links are not followed (a link
  to a file outside the folder is not ours to change).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def make_private(state_dir: Path) -> None:
    """Create ``state_dir`` (0700) if needed and bring every folder/file below it to 0700/0600."""
    state_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(state_dir, DIR_MODE)
    for root, dirs, files in os.walk(state_dir):
        for name in (*dirs, *files):
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:  # removed while we walk (a log rotated, a tmp file renamed)
                continue
            if stat.S_ISLNK(st.st_mode):
                continue
            want = DIR_MODE if stat.S_ISDIR(st.st_mode) else FILE_MODE
            if stat.S_IMODE(st.st_mode) & ~want:
                os.chmod(path, stat.S_IMODE(st.st_mode) & want)
