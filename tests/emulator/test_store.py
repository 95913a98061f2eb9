"""The emulator's document store: versions, parents, prefixes, durability across reopen."""

from __future__ import annotations

from pathlib import Path

from emulator.store import Store


def test_put_get_versions_and_reopen(tmp_path: Path) -> None:
    db = tmp_path / "s.sqlite"
    store = Store(db)
    first = store.put("k", "a", {"x": 1}, parent="p")
    second = store.put("k", "a", {"x": 2}, parent="p")
    assert (first.version, second.version) == (1, 2)
    assert second.etag == '"2"'
    store.close()
    reopened = Store(db)
    got = reopened.get("k", "a")
    assert got is not None
    assert got.body == {"x": 2}
    assert got.parent == "p"


def test_list_by_parent_and_prefix_delete(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.put("api", "/s/1/apis/a", {"n": "a"}, parent="/s/1")
    store.put("api", "/s/1/apis/b", {"n": "b"}, parent="/s/1")
    store.put("api", "/s/2/apis/c", {"n": "c"}, parent="/s/2")
    store.put("op", "/s/1/apis/a/operations/o", {"n": "o"}, parent="/s/1/apis/a")
    assert [d.body["n"] for d in store.list("api", parent="/s/1")] == ["a", "b"]
    assert len(store.list_prefix("/s/1/")) == 3
    # LIKE wildcards in a key are literal, not patterns
    assert store.list_prefix("/s/_/") == []
    assert store.delete_prefix("/s/1/") == 3
    assert [d.key for d in store.list("api")] == ["/s/2/apis/c"]
    assert store.delete("api", "/s/2/apis/c") is True
    assert store.delete("api", "/s/2/apis/c") is False


def test_transaction_rolls_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    try:
        with store.transaction():
            store.put("k", "a", {})
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert store.get("k", "a") is None


def test_a_recreated_document_never_reuses_a_version(tmp_path: Path) -> None:
    """Caches keyed by (key, version) - the gateway's compiled policies - and If-Match rely on a
    version naming one write only: delete + re-create must not restart at 1 (issue 17, item 2)."""
    db = tmp_path / "s.sqlite"
    store = Store(db)
    seen = {store.put("k", "a", {"x": 1}).version, store.put("k", "a", {"x": 2}).version}
    assert store.delete("k", "a")
    recreated = store.put("k", "a", {"x": 3})
    assert recreated.version not in seen
    assert recreated.version > max(seen)
    other = store.put("k", "b", {"x": 1})
    assert other.version > recreated.version  # one counter for the whole store
    store.delete("k", "a")
    store.delete("k", "b")
    store.close()
    reopened = Store(db)  # the counter is durable even when the newest documents are gone
    assert reopened.put("k", "a", {"x": 4}).version > other.version


def test_a_database_without_the_counter_continues_from_its_largest_version(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "old.sqlite"
    raw = sqlite3.connect(db)
    raw.execute(
        "CREATE TABLE docs (kind TEXT NOT NULL, key TEXT NOT NULL, parent TEXT, body TEXT NOT NULL,"
        " version INTEGER NOT NULL, PRIMARY KEY (kind, key))"
    )
    raw.execute("INSERT INTO docs VALUES ('k', 'a', NULL, '{}', 7)")
    raw.commit()
    raw.close()
    store = Store(db)
    assert store.put("k", "b", {}).version == 8
    assert store.put("k", "a", {}).version == 9


# ------------------------------------------------------------ damaged state (issue 17.19)


def _refused(path: Path) -> str:
    import pytest

    from emulator.store import StateError

    before = path.read_bytes()
    with pytest.raises(StateError) as caught:
        Store(path)
    assert path.read_bytes() == before  # nothing changed, nothing deleted
    message = str(caught.value)
    assert str(path) in message
    assert f"mv {path} {path}.broken" in message
    return message


def test_a_zero_length_database_is_refused_not_silently_empty(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite"
    db.write_bytes(b"")
    assert "it is empty (0 bytes)" in _refused(db)


def test_a_garbage_database_is_refused_with_the_way_out(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite"
    db.write_bytes(b"this is not a database\n" * 100)
    assert "not a readable SQLite database (file is not a database)" in _refused(db)


def test_a_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "emulator.sqlite"
    with sqlite3.connect(db) as other:
        other.execute("CREATE TABLE notes (x)")
    other.close()
    assert "not an emulator state database (it has notes, not the docs table)" in _refused(db)


def test_damaged_pages_are_found_at_start(tmp_path: Path) -> None:
    import pytest

    from emulator.store import StateError

    db = tmp_path / "emulator.sqlite"
    store = Store(db)
    for i in range(300):
        store.put("k", f"key-{i}", {"filler": "x" * 200}, parent="p")
    store.close()
    data = bytearray(db.read_bytes())
    page = 4096
    data[3 * page : 6 * page] = b"\xff" * (3 * page)  # overwrite b-tree pages, keep the header
    db.write_bytes(bytes(data))
    damaged = Store(db)
    try:
        with pytest.raises(StateError, match="SQLite finds it damaged"):
            damaged.check_integrity()
    finally:
        damaged.close()


def test_a_new_database_is_made_whole_or_not_at_all(tmp_path: Path) -> None:
    db = tmp_path / "emulator.sqlite"
    (tmp_path / "emulator.sqlite.new").write_bytes(b"")  # left by a first start that was killed
    Store(db).close()
    assert not (tmp_path / "emulator.sqlite.new").exists()
    assert oct(db.stat().st_mode & 0o777) == "0o600"
    Store(db).close()  # and it opens again
