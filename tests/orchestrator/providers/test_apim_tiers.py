"""Which tier changes the plan makes in place and which it replaces (Learn, upgrade-and-scale)."""

from __future__ import annotations

import pytest

from orchestrator.providers.apim_tiers import replacement_reason


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Developer", "Premium"),
        ("Basic", "Standard"),
        ("Premium", "Developer"),
        ("BasicV2", "StandardV2"),
        ("StandardV2", "BasicV2"),
        ("BasicV2", "basicv2"),
    ],
)
def test_in_place(old: str, new: str) -> None:
    assert replacement_reason(old, new) is None


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        ("BasicV2", "Developer", "between the classic and v2 tiers"),
        ("Developer", "StandardV2", "between the classic and v2 tiers"),
        ("Consumption", "Developer", "Consumption"),
        ("BasicV2", "Consumption", "Consumption"),
        ("StandardV2", "PremiumV2", "only between BasicV2 and StandardV2"),
    ],
)
def test_replaced_with_the_reason(old: str, new: str, why: str) -> None:
    reason = replacement_reason(old, new)
    assert reason is not None
    assert why in reason
