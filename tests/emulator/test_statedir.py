"""The state folder is private (issue 17.9): 0700 folders and 0600 files, for everything the
emulator creates (SQLite and its -wal/-shm, keys, logs, pid/port files) and for a folder that
already existed with looser modes."""

from __future__ import annotations

import os
from pathlib import Path

from emulator.statedir import make_private
from tests.support.emulator import EmulatorFactory
from tests.support.modes import loose_modes


def test_a_loose_state_folder_is_made_private_and_stays_private(
    tmp_path: Path, make_emulator: EmulatorFactory
) -> None:
    state = tmp_path / "state"
    (state / "apps").mkdir(parents=True, mode=0o755)
    os.chmod(state, 0o755)
    os.chmod(state / "apps", 0o755)
    old_log = state / "apps" / "mcp-server.log"
    old_log.write_text("secret-looking output of an older version\n")
    os.chmod(old_log, 0o644)
    (state / "requests.jsonl").write_text("")
    os.chmod(state / "requests.jsonl", 0o666)
    emu = make_emulator(state_dir=state)
    with emu.sync_http() as http:  # the signing keys are made on first use
        assert http.get(f"/login/{emu.tenant_id}/discovery/v2.0/keys").status_code == 200
    names = {p.name for p in state.iterdir()}
    assert {"emulator.sqlite", "emulator.sqlite-wal", "emulator.sqlite-shm", "ca-key.pem"} <= names
    assert {"identity-keys.json", "emulator.json", "emulator.lock", "requests.jsonl"} <= names
    assert loose_modes(state) == []
    emu.stop()
    assert loose_modes(state) == []


def test_make_private_leaves_links_alone(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    os.chmod(outside, 0o644)
    state = tmp_path / "state"
    state.mkdir()
    (state / "link").symlink_to(outside)
    make_private(state)
    assert oct(outside.stat().st_mode & 0o777) == "0o644"
    assert loose_modes(state) == []
