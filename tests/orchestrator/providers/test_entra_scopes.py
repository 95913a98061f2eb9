"""Graph's sequence for scope changes (``entra.disable_first``): an enabled scope is disabled in
one write before a later write removes or changes it; nothing extra when nothing needs it."""

from __future__ import annotations

from typing import Any

from orchestrator.providers.entra import disable_first


def scope(sid: str, value: str, enabled: bool = True) -> dict[str, Any]:
    return {"id": sid, "value": value, "type": "User", "isEnabled": enabled, "adminConsentDisplayName": "A"}


APP = {
    "displayName": "App",
    "signInAudience": "AzureADMyOrg",
    "tags": ["prmlab-lab:t", "theirs"],
    "api.requestedAccessTokenVersion": 2,
    "api.oauth2PermissionScopes": [scope("1", "user_impersonate"), scope("2", "read")],
    "api.preAuthorizedApplications": [
        {"appId": "vscode", "delegatedPermissionIds": ["1", "2"]},
        {"appId": "other", "delegatedPermissionIds": ["1"]},
    ],
}


def test_renaming_a_scope_disables_the_old_one_first_and_keeps_the_others() -> None:
    desired = {"@x": 1, "api.oauth2PermissionScopes": [scope("3", "mcp.access"), scope("2", "read")]}
    first = disable_first(APP, desired)
    assert first is not None
    assert first["api.oauth2PermissionScopes"] == [scope("1", "user_impersonate", False), scope("2", "read")]
    # the disabled scope is no longer pre-authorized; a client left with none is dropped
    assert first["api.preAuthorizedApplications"] == [{"appId": "vscode", "delegatedPermissionIds": ["2"]}]
    # the rest of the app as it is (a PATCH of these fields must not change them)
    assert first["displayName"] == "App"
    assert first["tags"] == ["prmlab-lab:t", "theirs"]
    assert first["api.requestedAccessTokenVersion"] == 2
    assert first["@x"] == 1


def test_removing_a_scope_disables_it_first() -> None:
    first = disable_first(APP, {"api.oauth2PermissionScopes": [scope("1", "user_impersonate")]})
    assert first is not None
    assert [s["isEnabled"] for s in first["api.oauth2PermissionScopes"]] == [True, False]


def test_a_changed_type_or_value_under_the_same_id_disables_first() -> None:
    changed = {**scope("1", "user_impersonate"), "type": "Admin"}
    assert disable_first(APP, {"api.oauth2PermissionScopes": [changed, scope("2", "read")]}) is not None


def test_nothing_first_when_ids_and_values_stay_or_the_scope_is_already_disabled() -> None:
    same = {
        "api.oauth2PermissionScopes": [
            {**scope("1", "user_impersonate"), "adminConsentDisplayName": "B"},
            scope("2", "read"),
        ]
    }
    assert disable_first(APP, same) is None  # descriptions change in place
    off = {**APP, "api.oauth2PermissionScopes": [scope("1", "user_impersonate", False), scope("2", "read")]}
    assert disable_first(off, {"api.oauth2PermissionScopes": [scope("2", "read")]}) is None
