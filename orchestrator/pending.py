"""Deletes this lab started and has not seen finish: the record that makes an interrupted
destroy converge.

Where it sits: a provider whose delete takes more than one irreversible call writes an entry
here *before* the first one and removes it after the last; its ``read`` looks here to find what
it left half-done. Today that is the APIM service: ``begin_delete`` soft-deletes it, and only the
purge frees the name. A run killed in between (Ctrl-C, SIGKILL, a lost network) leaves a
soft-deleted service that carries no tag any more — the deleted-services resource
(``Microsoft.ApiManagement/locations/deletedservices``) has only ``serviceId``, ``deletionDate``
and ``scheduledPurgeDate`` — so this record is the lab's only proof that the copy is its own,
and the next run purges it (destroy) or purges and re-creates it (reconcile).

File: ``<state folder>/pending-deletes.json`` (0600), ``{"<kind>": {"<key>": {...}}}``. The
reconcile lock serialises writers; each write replaces the file atomically. Stdlib only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FILE = "pending-deletes.json"


class PendingDeletes:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / FILE

    def _load(self) -> dict[str, dict[str, dict[str, Any]]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # unreadable: nothing recorded (a missing record only loses the shortcut)
        return data if isinstance(data, dict) else {}

    def _save(self, data: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def entries(self, kind: str) -> dict[str, dict[str, Any]]:
        """``{key: record}`` of the deletes of ``kind`` started and not finished."""
        found = self._load().get(kind)
        return (
            {str(k): dict(v) for k, v in found.items() if isinstance(v, dict)}
            if isinstance(found, dict)
            else {}
        )

    def start(self, kind: str, key: str, record: Mapping[str, Any]) -> None:
        data = self._load()
        data.setdefault(kind, {})[key] = dict(record)
        self._save(data)

    def finish(self, kind: str, key: str) -> None:
        data = self._load()
        if key in data.get(kind, {}):
            del data[kind][key]
            if not data[kind]:
                del data[kind]
            if data:
                self._save(data)
            else:
                self.path.unlink(missing_ok=True)
