"""The bounded replication wait of the Entra providers (polling with backoff, never a fixed sleep)."""

from __future__ import annotations

import anyio
import pytest

from orchestrator.errors import TemporaryError
from orchestrator.providers.entra import wait_visible

pytestmark = pytest.mark.anyio


async def test_returns_as_soon_as_the_object_is_visible() -> None:
    calls: list[int] = []

    async def fetch() -> str | None:
        calls.append(1)
        return "app" if len(calls) == 3 else None

    with anyio.fail_after(5):
        assert await wait_visible("entra_app.x", fetch, limit_s=5, first_delay=0.001) == "app"
    assert len(calls) == 3


async def test_gives_up_with_a_temporary_error_after_the_limit() -> None:
    calls: list[int] = []

    async def never() -> str | None:
        calls.append(1)
        return None

    with anyio.fail_after(5), pytest.raises(TemporaryError, match="replication") as caught:
        await wait_visible("service_principal.x", never, limit_s=0.05, first_delay=0.001)
    assert caught.value.resource == "service_principal.x"
    assert 2 <= len(calls) < 20  # backoff: a handful of polls, not a busy loop
