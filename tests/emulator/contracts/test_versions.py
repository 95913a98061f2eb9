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
        "for type 'service/apis'. The supported api-versions are '2025-09-01-preview, 2025-03-01-preview, 2024-10-01-preview,"
    )


def test_every_type_the_emulator_serves_is_in_the_table() -> None:
    """The table is complete by construction: a type the emulated ARM serves (its type registry,
    filled as the server fills it, and the resource groups its router serves itself) without an
    entry in api-versions.json would be served at any api-version, unlike Azure."""
    from emulator.arm import register_types
    from emulator.arm.router import RG_TYPE
    from emulator.arm.types import REGISTRY

    register_types()
    served = {spec.kind for spec in REGISTRY.values()} | {RG_TYPE.lower()}
    assert len(served) > 30
    missing = sorted(t for t in served if versions.supported(t) is None)
    assert missing == [], f"served by the emulator, not in api-versions.json: {missing}"


def test_arms_own_types_get_its_front_doors_answer() -> None:
    """Resource groups are served by ARM itself: InvalidApiVersionParameter, the list without
    spaces and no location (Azure/azure-sdk-for-net#3160, Azure/azure-sdk-for-python#975)."""
    refusal = versions.check("Microsoft.Resources/resourceGroups", "2019-01-01", "westeurope")
    assert refusal is not None
    assert (refusal.status, refusal.code) == (400, "InvalidApiVersionParameter")
    assert refusal.message == (
        "The api-version '2019-01-01' is invalid. The supported versions are "
        f"'{','.join(versions.supported('Microsoft.Resources/resourceGroups') or ())}'."
    )
    assert refusal.message.startswith(
        "The api-version '2019-01-01' is invalid. The supported versions are '2025-04-01,"
    )
    assert versions.check("Microsoft.Resources/resourceGroups", "2025-04-01") is None
