"""Entities survive a clean restart and a ``kill -9`` of the emulator (same ETags, same endpoint)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.emulator.storage.support import apim_token, grant, make_lab, table_client
from tests.support.emulator import EmulatorFactory

pytestmark = pytest.mark.anyio


async def test_entities_survive_restarts(make_emulator: EmulatorFactory, tmp_path: Path) -> None:
    first = make_emulator()
    lab = await make_lab(first)
    principal = str(uuid.uuid4())
    await grant(first, lab.account_id, principal)
    async with table_client(first, lab, apim_token(first, tmp_path, principal)) as tc:
        created = await tc.create_entity({"PartitionKey": "client", "RowKey": "kept", "Registration": "{}"})
    assert first.stop() == 0
    second = make_emulator(state_dir=first.state_dir)
    assert second.base_url == first.base_url  # primaryEndpoints.table stays valid
    async with table_client(second, lab, apim_token(second, tmp_path, principal)) as tc:
        got = await tc.get_entity("client", "kept")
        assert (got["Registration"], got.metadata["etag"]) == ("{}", created["etag"])
        await tc.create_entity({"PartitionKey": "client", "RowKey": "late"})
    assert second.kill() == -9
    third = make_emulator(state_dir=first.state_dir)
    async with table_client(third, lab, apim_token(third, tmp_path, principal)) as tc:
        assert [e["RowKey"] async for e in tc.list_entities()] == ["kept", "late"]
