"""msgraph's alternate-key builders share the client's path parameters: two alive at once must
still address their own keys (``providers.common.keyed``). Found when the local credential began
to await the identity service: a second app's PATCH went to the first app's URL."""

from __future__ import annotations

from typing import Any

from orchestrator.providers.common import keyed
from orchestrator.target import TargetSettings, _graph_client
from tests.support.credentials import StaticTokenCredential


def _url(builder: Any) -> str:
    return str(builder.to_get_request_information().url)


def test_two_keyed_builders_keep_their_own_keys(tmp_path: Any) -> None:
    settings = TargetSettings("azure", "sub", "tenant", "rg", "westeurope")
    graph, _ = _graph_client(settings, credential=StaticTokenCredential("unused"))
    first = keyed(graph, "applications_with_unique_name", "app-000")
    second = keyed(graph, "applications_with_unique_name", "app-001")
    assert "uniqueName='app-000'" in _url(first)
    assert "uniqueName='app-001'" in _url(second)
    # what the SDK does without it: the first builder now points at the second key
    raw_first = graph.applications_with_unique_name("app-000")
    graph.applications_with_unique_name("app-001")
    assert "uniqueName='app-001'" in _url(raw_first)
