"""The api-version table and ARM's NoRegisteredProviderFound answer."""

from __future__ import annotations

from emulator.contracts import versions


def test_a_served_version_passes_and_an_unknown_type_is_not_checked() -> None:
    assert versions.check("Microsoft.ApiManagement/service/apis", "2024-05-01") is None
    assert versions.check("Microsoft.ApiManagement/service/apis", "2024-06-01-preview") is None
    assert versions.check("Microsoft.Example/things", "1999-01-01") is None


def test_an_unknown_version_gets_arms_answer_with_the_supported_list() -> None:
    refusal = versions.check("Microsoft.ApiManagement/service/apis", "2024-05-02", "UK West")
    assert refusal is not None
    assert (refusal.status, refusal.code) == (400, "NoRegisteredProviderFound")
    assert refusal.message.startswith(
        "No registered resource provider found for location 'ukwest' and API version '2024-05-02' "
        "for type 'service/apis'. The supported api-versions are '2025-03-01-preview, 2024-10-01-preview,"
    )
