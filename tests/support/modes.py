"""File-mode checks for the private state folder (issue 17.9): what is readable by others."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def loose_modes(root: Path) -> list[str]:
    """``path mode`` of every folder under ``root`` (itself included) that is not 0700 and every
    file that grants anything to group or others (symbolic links are not judged)."""
    found: list[str] = []
    for path in [root, *sorted(root.rglob("*"))]:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            continue
        mode = stat.S_IMODE(st.st_mode)
        if (stat.S_ISDIR(st.st_mode) and mode != 0o700) or mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {oct(mode)}")
    return found
