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
