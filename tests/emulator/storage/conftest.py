"""A resource group per test, deleted afterwards (the session emulator's group list stays short:
other tests page through it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.azure import make_group
from tests.support.emulator import RunningEmulator


@pytest.fixture
async def group(emulator: RunningEmulator) -> AsyncIterator[str]:
    name = await make_group(emulator)
    yield name
    async with emulator.resource_client() as rc:
        await (await rc.resource_groups.begin_delete(name)).result()
