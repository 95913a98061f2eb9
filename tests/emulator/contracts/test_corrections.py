"""Corrections: a spec rule Azure's own example contradicts is lifted only where the example shows it."""

from __future__ import annotations

from emulator.contracts import corrections, loader
from emulator.contracts.schema import Rules, validate

DEFS = (
    "specification/apimanagement/resource-manager/Microsoft.ApiManagement/stable/2024-05-01/definitions.json"
)
POOL = {"properties": {"type": "Pool", "pool": {"services": [{"id": "/subscriptions/s/backends/one"}]}}}


def test_a_pool_backend_without_url_or_protocol_is_accepted_as_the_published_example_is() -> None:
    schema = loader.definition(DEFS, "BackendContract")
    raw = validate(schema, POOL, Rules.STRICT)
    assert sorted(p.path for p in raw.problems) == ["properties.protocol", "properties.url"]
    assert corrections.apply(raw, POOL).problems == ()


def test_a_single_backend_still_needs_url_and_protocol() -> None:
    schema = loader.definition(DEFS, "BackendContract")
    single = {"properties": {"type": "Single", "description": "no url"}}
    fixed = corrections.apply(validate(schema, single, Rules.STRICT), single)
    assert sorted(p.path for p in fixed.problems) == ["properties.protocol", "properties.url"]
