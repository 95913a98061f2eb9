"""The vendored spec files: integrity, ``$ref`` resolution and operation lookup."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from emulator.contracts import loader

SVC = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/svc"


def _refresh_module() -> object:
    path = loader.SPECS_DIR / "refresh.py"
    spec = importlib.util.spec_from_file_location("specs_refresh", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_vendored_file_matches_its_manifest_sha256() -> None:
    refresh = _refresh_module()
    assert refresh.main(["--check"]) == 0  # type: ignore[attr-defined]


def test_a_changed_file_fails_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    refresh = _refresh_module()
    copy = tmp_path / "specs"
    import shutil

    shutil.copytree(loader.SPECS_DIR, copy)
    target = next((copy / "azure-rest-api-specs").rglob("definitions.json"))
    target.write_text(target.read_text().replace('"path"', '"paht"', 1))
    monkeypatch.setattr(refresh, "HERE", copy)
    assert refresh.main(["--check"]) == 1  # type: ignore[attr-defined]


def test_the_extract_transform_keeps_property_names_and_drops_documentation() -> None:
    refresh = _refresh_module()
    upstream = {
        "swagger": "2.0",
        "info": {"title": "T", "version": "1", "description": "x"},
        "paths": {},
        "definitions": {
            "A": {
                "type": "object",
                "description": "drop me",
                "properties": {
                    "description": {"type": "string", "description": "kept as a property"},
                    "kind": {
                        "type": "string",
                        "enum": ["a"],
                        "x-ms-enum": {"name": "K", "modelAsString": True, "values": []},
                    },
                },
            },
            "B": {"type": "string"},
        },
    }
    out = refresh.extract(upstream, {"definitions": ["A"]})  # type: ignore[attr-defined]
    assert out["definitions"] == {
        "A": {
            "type": "object",
            "properties": {
                "description": {"type": "string"},
                "kind": {"type": "string", "enum": ["a"], "x-ms-enum": {"name": "K", "modelAsString": True}},
            },
        }
    }


def test_refs_resolve_across_files_as_upstream() -> None:
    api = loader.definition(
        "specification/apimanagement/resource-manager/Microsoft.ApiManagement/stable/2024-05-01/definitions.json",
        "ApiContract",
    )
    parent = loader.resolve(api.file, api.node["allOf"][0])
    assert parent.file == "specification/common-types/resource-management/v2/types.json"
    assert parent.name == "ProxyResource"


def test_operations_match_arm_paths_case_insensitively_and_revision_ids() -> None:
    op = loader.operation("PUT", f"{SVC.lower()}/APIS/echo-api;rev=3", "2024-05-01")
    assert op is not None
    assert op.operation_id == "Api_CreateOrUpdate"
    assert op.statuses == (200, 201)
    assert op.long_running
    body = op.body_schema()
    assert body is not None
    assert body.name == "ApiCreateOrUpdateParameter"
    assert "ApiManagementCreateApi" in op.examples()


def test_an_operation_of_another_api_version_or_type_is_not_found() -> None:
    assert loader.operation("PUT", f"{SVC}/apis/echo", "2023-05-01-preview") is None
    # the role-assignment file's ``/{roleAssignmentId}`` template is for role assignments only
    assert (
        loader.operation(
            "PUT",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a",
            "2022-04-01",
        )
        is None
    )
    ra = loader.operation(
        "PUT",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a"
        "/providers/Microsoft.Authorization/roleAssignments/0b0a7b3c-0000-4000-8000-000000000001",
        "2022-04-01",
    )
    assert ra is not None
    assert ra.operation_id == "RoleAssignments_CreateById"


def test_a_missing_definition_is_a_contract_error() -> None:
    with pytest.raises(loader.ContractError):
        loader.definition(
            "specification/apimanagement/resource-manager/Microsoft.ApiManagement/stable/2024-05-01/definitions.json",
            "NoSuchContract",
        )


RG = "/subscriptions/s/resourceGroups/rg"


def test_resource_groups_and_actions_find_their_operation() -> None:
    assert loader.resource_type_of(f"{RG}") == "Microsoft.Resources/resourceGroups"
    group = loader.operation("PUT", RG.replace("resourceGroups", "resourcegroups"), "2025-04-01")
    assert group is not None
    assert group.operation_id == "ResourceGroups_CreateOrUpdate"
    listed = loader.operation("GET", f"{RG}/resources", "2025-04-01")  # under a group, no /providers/
    assert listed is not None
    assert listed.operation_id == "Resources_ListByResourceGroup"
    # an action is served by the file of its resource's type (registries), not a type of its own
    registry = f"{RG}/providers/Microsoft.ContainerRegistry/registries/cr1"
    run = loader.operation("POST", f"{registry}/scheduleRun", "2019-06-01-preview")
    assert run is not None
    assert run.operation_id == "Registries_ScheduleRun"
    assert run.statuses == (200, 202)
    upload = loader.operation("POST", f"{registry}/listBuildSourceUploadUrl", "2019-06-01-preview")
    assert upload is not None
    assert upload.body_schema() is None
    assert loader.operation("POST", f"{registry}/scheduleRun", "2023-07-01") is None


def test_storage_operations_carry_their_documented_statuses() -> None:
    account = f"{RG}/providers/Microsoft.Storage/storageAccounts/st1"
    create = loader.operation("PUT", account, "2023-05-01")
    assert create is not None
    assert (create.operation_id, create.statuses) == ("StorageAccounts_Create", (200, 202))
    answer = create.response_schema(200)
    assert answer is not None
    assert answer.name == "StorageAccount"
    assert create.response_schema(202) is None  # accepted: no body
    table = loader.operation("PUT", f"{account}/tableServices/default/tables/t1", "2023-05-01")
    assert table is not None
    assert (table.operation_id, table.statuses) == ("Table_Create", (200,))
    service = loader.operation("GET", f"{account}/tableServices/default", "2023-05-01")
    assert service is not None
    assert service.operation_id == "TableServices_GetServiceProperties"


# Operations that are no resource type of their own (a provider action at subscription scope, a
# provider's registration, the caller's permissions): the version table lists resource types.
_NOT_RESOURCE_TYPES = frozenset(
    {
        "Microsoft.ApiManagement/checkNameAvailability",
        "Microsoft.ContainerRegistry/checkNameAvailability",
        "Microsoft.Storage/checkNameAvailability",
        "Microsoft.Resources/providers",
        "Microsoft.Authorization/permissions",
    }
)


def test_every_vendored_operation_has_its_api_version_in_the_version_table() -> None:
    """The emulator must never refuse an api-version whose contract is vendored."""
    from emulator.contracts import versions

    for entry in loader.manifest()["files"]:
        for rtype in entry.get("resource_types", []):
            served = versions.supported(rtype)
            if served is None and rtype in _NOT_RESOURCE_TYPES:
                continue  # never refused: a type the table does not list is not checked
            assert served is not None, f"{rtype} is not in api-versions.json"
            assert entry["api_version"] in served, f"{rtype}@{entry['api_version']}"
