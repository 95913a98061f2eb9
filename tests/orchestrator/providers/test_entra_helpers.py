"""Pure helpers of the Entra providers: the bounded replication wait (polling with backoff, never a
fixed sleep) and Graph paging."""

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
    now = [0.0]
    slept: list[float] = []

    async def never() -> str | None:
        calls.append(1)
        return None

    async def sleep(seconds: float) -> None:  # time passes only when the code waits
        slept.append(seconds)
        now[0] += seconds

    with anyio.fail_after(5), pytest.raises(TemporaryError, match="replication") as caught:
        await wait_visible(
            "service_principal.x", never, limit_s=30, first_delay=0.1, clock=lambda: now[0], sleep=sleep
        )
    assert caught.value.resource == "service_principal.x"
    # backoff, doubling up to 2 s, never past the limit: a handful of polls, not a busy loop
    assert slept == [0.1, 0.2, 0.4, 0.8, 1.6] + [2.0] * 13
    assert sum(slept) <= 30 < sum(slept) + 2.0
    assert len(calls) == len(slept) + 1


async def test_graph_pages_follow_next_links() -> None:
    from types import SimpleNamespace

    from orchestrator.providers.entra import pages

    served = {
        "p2": SimpleNamespace(value=[3, 4], odata_next_link="p3"),
        "p3": SimpleNamespace(value=[5], odata_next_link=None),
    }
    requested: list[str] = []

    class Builder:
        def __init__(self, url: str) -> None:
            self.url = url

        async def get(self) -> SimpleNamespace:
            requested.append(self.url)
            return served[self.url]

    first = SimpleNamespace(value=[1, 2], odata_next_link="p2")
    assert await pages(first, Builder) == [1, 2, 3, 4, 5]
    assert requested == ["p2", "p3"]
    assert await pages(None, Builder) == []
