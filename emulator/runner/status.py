"""How the runner reports an app's state in the stored container app (store I/O, one function).

Where it sits: ``supervisor`` calls ``record`` on every state change. The runner owns only
``properties.runningStatus`` (Azure's field: ``Progressing`` / ``Running`` / ``Stopped`` /
``Failed``) and ``properties.localRunner`` (emulator-only detail: state, message, pid, log file,
spec fingerprint). It touches ``properties.provisioningState`` only to set ``Failed`` when the
app cannot run at all (unsupported image, broken spec) and to put ``Succeeded`` back once it
runs. The write is a read-modify-write inside one store transaction, so an ARM write in
between is never lost, and it is skipped when nothing changed (no needless version bumps). It
writes the store directly, not through ARM, so it publishes no event.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from emulator.runner.spec import KIND
from emulator.store import Store


class RunningStatus(enum.StrEnum):
    PROGRESSING = "Progressing"
    RUNNING = "Running"
    STOPPED = "Stopped"
    FAILED = "Failed"


@dataclass(frozen=True, slots=True)
class AppStatus:
    running: RunningStatus
    message: str
    pid: int | None = None
    log: str | None = None
    fingerprint: str | None = None
    spec_failed: bool = False  # the app cannot run at all -> provisioningState Failed

    def detail(self) -> dict[str, Any]:
        return {
            "state": self.running.value,
            "message": self.message,
            "pid": self.pid,
            "log": self.log,
            "specFingerprint": self.fingerprint,
        }


def record(store: Store, key: str, status: AppStatus) -> bool:
    """Write ``status`` into the stored app if it still exists and differs; True if written."""
    with store.transaction():
        doc = store.get(KIND, key)
        if doc is None:
            return False
        body = dict(doc.body)
        props = dict(body.get("properties") or {})
        before = (props.get("runningStatus"), props.get("localRunner"), props.get("provisioningState"))
        props["runningStatus"] = status.running.value
        props["localRunner"] = status.detail()
        if status.spec_failed:
            props["provisioningState"] = "Failed"
        elif props.get("provisioningState") == "Failed" and status.running is RunningStatus.RUNNING:
            props["provisioningState"] = "Succeeded"
        if (props.get("runningStatus"), props.get("localRunner"), props.get("provisioningState")) == before:
            return False
        body["properties"] = props
        store.put(KIND, key, body, parent=doc.parent)
        return True
