"""Durable document store of the emulator (SQLite, WAL) — the one place state lives.

Every sub-app keeps Azure's own wire shapes here, so sub-apps can read each other's
resources without private interfaces:

* ARM resources: ``kind`` = lower-cased resource type (``microsoft.apimanagement/service/apis``),
  ``key`` = lower-cased full resource id, ``parent`` = lower-cased parent resource id (or the
  resource group id for top-level resources); ``body`` = the JSON the ARM GET returns (secrets
  included: hiding them is the ARM layer's job).
* Graph objects: ``kind`` = ``graph/<collection>`` (``graph/applications``), ``key`` = object id,
  ``parent`` = owning object id for nested collections (federated identity credentials).
* Identity service and other internal state: ``kind`` = ``identity/<what>``, ``gateway/<what>``.

Versions are one store-wide revision counter (kept in ``meta``), not a per-document count: a
document deleted and re-created never gets a version it had before, so every cache keyed by
(key, version) (the gateway's compiled policies and snapshots) and every ``If-Match`` stays right
across a delete. A database written before the counter existed starts it at its largest version.

Each write is its own transaction (WAL, ``synchronous=NORMAL``), so a ``kill -9`` loses at most
the request that was in flight. Calls are synchronous and take well under a millisecond; sub-apps
call them directly from async handlers.

A new database is built under a temporary name and renamed into place once its schema is
written, so an emulator killed during its first start never leaves a half-made file: an empty
(0-byte) ``emulator.sqlite``, a file that is not SQLite, a database without the ``docs`` table or
one that fails SQLite's ``quick_check`` is therefore damage, and opening it raises
``StateError`` saying what is wrong and how to recover. Nothing is ever deleted or overwritten
to recover: moving the file aside is the user's decision.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_List = list

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    kind    TEXT NOT NULL,
    key     TEXT NOT NULL,
    parent  TEXT,
    body    TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS docs_parent ON docs (kind, parent);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# Once per database (at creation, or at the first write to one made before the counter existed):
# the counter starts at the largest version in it. Opening reads neither ``meta`` nor ``docs``
# (damage is check_integrity's to report).
_START_REVISION = "INSERT INTO meta (name, value) SELECT 'revision', COALESCE(MAX(version), 0) FROM docs"

Doc = dict[str, Any]


class StateError(Exception):
    """The store's file cannot be used as it is; the message names it, the cause and the way out."""


def _unusable(path: Path, cause: str) -> StateError:
    return StateError(
        f"the emulator's state database {path} is unusable: {cause}. Nothing was changed. "
        f"To keep it for inspection and start with an empty emulator, move it aside "
        f"(mv {path} {path}.broken, and its -wal/-shm files with it if they exist); "
        "the next `prmlab reconcile` then creates the lab's resources again "
        "(what only lived in the emulator, such as test users it made, is recreated too)"
    )


def _create(path: Path) -> None:
    """A new database with its schema, made under a temporary name and renamed into place."""
    tmp = path.with_name(path.name + ".new")
    for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
        leftover.unlink(missing_ok=True)  # our own temporary file of an interrupted first start
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    db = sqlite3.connect(str(tmp), isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        db.execute(_START_REVISION)
    finally:
        db.close()  # checkpoints the WAL into the file and removes -wal/-shm
    os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class Stored:
    """A document with its version: the store-wide revision of its last write (used as the ETag)."""

    kind: str
    key: str
    parent: str | None
    body: Doc
    version: int

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


class Store:
    """Thread-safe SQLite-backed document store."""

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        self._lock = threading.RLock()
        file = Path(path)
        try:
            size = file.stat().st_size
        except FileNotFoundError:
            _create(file)
        else:
            if size == 0:
                raise _unusable(
                    file,
                    "it is empty (0 bytes); the emulator never leaves its database empty, so the file "
                    "was truncated or replaced (a full disk, an interrupted copy)",
                )
        self._db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        try:  # read-only until the file is known to be ours
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise _unusable(file, f"it is not a readable SQLite database ({exc})") from None
        if "docs" not in tables:
            self._db.close()
            found = ", ".join(sorted(tables)) or "no tables at all"
            raise _unusable(
                file, f"it is not an emulator state database (it has {found}, not the docs table)"
            )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)  # indexes added since the file was made

    def check_integrity(self) -> None:
        """SQLite's ``quick_check`` (damaged pages, bad indexes); ``StateError`` if it fails. The
        emulator runs it once at start-up, so damage is reported there, not mid-request."""
        try:
            with self._lock:
                rows = [str(r[0]) for r in self._db.execute("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as exc:
            rows = [str(exc)]
        if rows != ["ok"]:
            raise _unusable(Path(self._path), "SQLite finds it damaged (" + "; ".join(rows) + ")")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes into one atomic step (re-entrant)."""
        with self._lock:
            if self._db.in_transaction:
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get(self, kind: str, key: str) -> Stored | None:
        with self._lock:
            row = self._db.execute(
                "SELECT parent, body, version FROM docs WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        if row is None:
            return None
        return Stored(kind, key, row[0], json.loads(row[1]), row[2])

    def put(self, kind: str, key: str, body: Doc, parent: str | None = None) -> Stored:
        """Insert or replace; the version is the next store-wide revision (never reused, even
        after a delete)."""
        text = json.dumps(body, separators=(",", ":"))
        with self.transaction():
            bump = "UPDATE meta SET value = value + 1 WHERE name = 'revision' RETURNING value"
            row = self._db.execute(bump).fetchone()
            if row is None:
                self._db.execute(_START_REVISION)
                row = self._db.execute(bump).fetchone()
            (revision,) = row
            self._db.execute(
                "INSERT INTO docs (kind, key, parent, body, version) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (kind, key) DO UPDATE SET parent = excluded.parent, body = excluded.body, "
                "version = excluded.version",
                (kind, key, parent, text, revision),
            )
        return Stored(kind, key, parent, body, int(revision))

    def delete(self, kind: str, key: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM docs WHERE kind = ? AND key = ?", (kind, key))
        return cur.rowcount > 0

    def list(self, kind: str, parent: str | None = None) -> _List[Stored]:
        """All documents of a kind (optionally under one parent), in insertion order."""
        with self._lock:
            if parent is None:
                rows = self._db.execute(
                    "SELECT key, parent, body, version FROM docs WHERE kind = ? ORDER BY rowid", (kind,)
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT key, parent, body, version FROM docs "
                    "WHERE kind = ? AND parent = ? ORDER BY rowid",
                    (kind, parent),
                ).fetchall()
        return [Stored(kind, r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    def list_prefix(self, key_prefix: str, kind_prefix: str = "") -> _List[Stored]:
        """Every document whose key starts with ``key_prefix`` (e.g. all under an ARM id)."""
        like = key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        kind_like = kind_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, key, parent, body, version FROM docs "
                "WHERE key LIKE ? ESCAPE '\\' AND kind LIKE ? ESCAPE '\\' ORDER BY rowid",
                (like, kind_like),
            ).fetchall()
        return [Stored(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    def delete_prefix(self, key_prefix: str, kind_prefix: str = "") -> int:
        """Delete every document whose key starts with ``key_prefix``; returns how many."""
        like = key_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        kind_like = kind_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._lock:
            cur = self._db.execute(
                "DELETE FROM docs WHERE key LIKE ? ESCAPE '\\' AND kind LIKE ? ESCAPE '\\'",
                (like, kind_like),
            )
        return cur.rowcount
