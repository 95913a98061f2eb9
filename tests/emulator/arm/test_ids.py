"""ARM path parsing (pure)."""

from __future__ import annotations

from emulator.arm.ids import parse_address

SVC = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.ApiManagement/service/apim"


def test_nested_resource() -> None:
    a = parse_address(SVC + "/apis/echo/operations/get", "PUT")
    assert a is not None
    assert a.kind == "microsoft.apimanagement/service/apis/operations"
    assert a.key == (SVC + "/apis/echo/operations/get").lower()
    assert a.parent_id == SVC + "/apis/echo"
    assert [x.id for x in a.ancestors()] == [SVC, SVC + "/apis/echo"]
    assert a.resource_group == "RG"
    assert not a.is_collection


def test_collection_and_action() -> None:
    coll = parse_address(SVC + "/apis", "GET")
    assert coll is not None
    assert coll.is_collection
    assert coll.parent_id == SVC
    action = parse_address(SVC + "/namedValues/nv/listValue", "POST")
    assert action is not None
    assert (action.action, action.name, action.kind) == (
        "listValue",
        "nv",
        "microsoft.apimanagement/service/namedvalues",
    )


def test_extension_resource_and_locations() -> None:
    ra = parse_address(SVC + "/providers/Microsoft.Authorization/roleAssignments/g1", "PUT")
    assert ra is not None
    assert (ra.scope, ra.kind, ra.parent_id) == (SVC, "microsoft.authorization/roleassignments", SVC)
    deleted = parse_address(
        "/subscriptions/S/providers/Microsoft.ApiManagement/locations/West%20Europe/deletedservices/apim",
        "GET",
    )
    assert deleted is not None
    assert deleted.names == ("westeurope", "apim")
    assert deleted.resource_group is None


def test_not_a_resource_path() -> None:
    assert parse_address("/subscriptions/S/resourcegroups/rg", "GET") is None
    assert parse_address("/v1.0/applications", "GET") is None
