"""Body validation against the vendored schemas: Azure's rules and the strict contract rules."""

from __future__ import annotations

from emulator.contracts import loader
from emulator.contracts.schema import Rules, strip_read_only, validate

DEFS = (
    "specification/apimanagement/resource-manager/Microsoft.ApiManagement/stable/2024-05-01/definitions.json"
)
RA = "specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/authorization-RoleAssignmentsCalls.json"


def api_body(**props: object) -> dict[str, object]:
    return {"properties": {"displayName": "Echo", "path": "echo", "protocols": ["https"], **props}}


def test_a_valid_api_body_passes_strictly() -> None:
    result = validate(
        loader.definition(DEFS, "ApiCreateOrUpdateParameter"), api_body(type="http"), Rules.STRICT
    )
    assert result.ok, result.problems


def test_a_misspelled_property_is_named_with_its_spec_file() -> None:
    result = validate(
        loader.definition(DEFS, "ApiCreateOrUpdateParameter"), api_body(dispalyName="x"), Rules.STRICT
    )
    assert [(p.path, p.kind) for p in result.problems] == [("properties.dispalyName", "unknown")]
    assert DEFS in str(result.problems[0])
    # Azure's own rules do not refuse unknown properties
    assert validate(
        loader.definition(DEFS, "ApiCreateOrUpdateParameter"), api_body(dispalyName="x"), Rules.AZURE
    ).ok


def test_a_missing_required_property() -> None:
    result = validate(
        loader.definition(DEFS, "ApiCreateOrUpdateParameter"),
        {"properties": {"displayName": "x"}},
        Rules.AZURE,
    )
    assert [(p.path, p.kind) for p in result.problems] == [("properties.path", "missing")]


def test_extensible_enums_restrict_nothing_closed_enums_do() -> None:
    # ApiType is ``modelAsString: true``: 'mcp' is not in the list, and still not refused
    assert validate(
        loader.definition(DEFS, "ApiCreateOrUpdateParameter"), api_body(type="mcp"), Rules.STRICT
    ).ok
    sku = loader.definition("specification/common-types/resource-management/v2/types.json", "Sku")
    result = validate(sku, {"name": "S1", "tier": "Gold"}, Rules.AZURE)
    assert [(p.path, p.kind) for p in result.problems] == [("tier", "enum")]


def test_types_are_checked() -> None:
    result = validate(
        loader.definition(DEFS, "ApiCreateOrUpdateParameter"),
        api_body(subscriptionRequired="no"),
        Rules.AZURE,
    )
    assert [(p.path, p.kind) for p in result.problems] == [("properties.subscriptionRequired", "type")]


def test_read_only_properties_are_errors_strictly_and_stripped_for_azure() -> None:
    schema = loader.definition(RA, "RoleAssignmentCreateParameters")
    body = {"properties": {"roleDefinitionId": "r", "principalId": "p", "scope": "/subscriptions/s"}}
    result = validate(schema, body, Rules.STRICT)
    assert [(p.path, p.kind) for p in result.problems] == [("properties.scope", "read-only")]
    assert validate(schema, body, Rules.AZURE).ok
    assert strip_read_only(schema, body) == {"properties": {"roleDefinitionId": "r", "principalId": "p"}}


def test_a_subtree_whose_schema_is_not_vendored_is_reported_unchecked() -> None:
    # X509CertificateName (Service Fabric server names) is not in the extract
    body = {
        "properties": {
            "url": "fabric:/mytestapp/mytestservice",
            "protocol": "http",
            "properties": {
                "serviceFabricCluster": {
                    "managementEndpoints": ["https://somecluster.com"],
                    "serverX509Names": [{"name": "ServerCommonName1"}],
                }
            },
        }
    }
    result = validate(loader.definition(DEFS, "BackendContract"), body, Rules.STRICT)
    assert result.problems == ()
    assert len(result.unchecked) == 1
    assert result.unchecked[0].startswith("properties.properties.serviceFabricCluster.serverX509Names[0]:")
