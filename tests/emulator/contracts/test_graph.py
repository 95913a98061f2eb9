"""The vendored Microsoft Graph v1.0 schemas and the body checks built on them."""

from __future__ import annotations

import importlib.util

from emulator.contracts import graph, loader

APP = "microsoft.graph.application"
SP = "microsoft.graph.servicePrincipal"
FIC = "microsoft.graph.federatedIdentityCredential"
USER = "microsoft.graph.user"


def _kinds(problems: list[graph.GraphProblem]) -> list[tuple[str, str]]:
    return [(p.path, p.kind) for p in problems]


def test_the_extract_is_what_the_pinned_sdk_carries() -> None:
    """``refresh.py`` re-derives the Graph extract from the installed msgraph-sdk; the vendored
    file is that output (a transcription can not drift from the SDK the engine uses)."""
    spec = importlib.util.spec_from_file_location("specs_refresh", loader.SPECS_DIR / "refresh.py")
    assert spec is not None
    assert spec.loader is not None
    refresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(refresh)
    entry = next(e for e in loader.manifest()["files"] if e["kind"] == "graph")
    assert refresh.serialise(refresh.graph_extract(entry)) == graph.GRAPH_FILE.read_text(encoding="utf-8")


def test_the_extract_agrees_with_the_published_csdl() -> None:
    """Facts read from msgraph-metadata's clean_v10_metadata/cleanMetadataWithDescriptionsv1.0.xml
    (commit 00c57933da10fb6a3b1d0c9f08fb7230fedf8ce2): structural properties, navigation
    properties and a read-only one of application and servicePrincipal."""
    types = graph.schema()["types"]
    app = types[APP]
    for name in (
        "identifierUris",
        "publicClient",
        "requiredResourceAccess",
        "signInAudience",
        "spa",
        "web",
        "tags",
    ):
        assert name in app["properties"], name
    assert app["properties"]["publisherDomain"].get("readOnly")
    assert app["properties"]["identifierUris"] == {"type": "Edm.String", "collection": True}
    assert app["properties"]["spa"] == {"type": "microsoft.graph.spaApplication"}
    assert {"owners", "extensionProperties", "tokenLifetimePolicies"} <= set(app["navigation"])
    sp = types[SP]
    assert sp["properties"]["appId"] == {"type": "Edm.String"}
    assert sp["properties"]["oauth2PermissionScopes"] == {
        "type": "microsoft.graph.permissionScope",
        "collection": True,
    }
    assert {"appRoleAssignedTo", "oauth2PermissionGrants", "owners"} <= set(sp["navigation"])
    assert app["base"] == sp["base"] == "microsoft.graph.directoryObject"
    assert types["microsoft.graph.directoryObject"]["base"] == "microsoft.graph.entity"
    assert types["microsoft.graph.entity"]["properties"]["id"]["readOnly"]
    # what Graph requires to create (descriptions + the cited overrides)
    required = graph.schema()["required"]
    assert required[FIC] == ["audiences", "issuer", "name", "subject"]
    assert required[USER] == [
        "accountEnabled",
        "displayName",
        "mailNickname",
        "passwordProfile",
        "userPrincipalName",
    ]
    assert required[APP] == ["displayName"]


def test_writes_map_to_their_entity() -> None:
    assert graph.entity_of("POST", "/v1.0/applications") == (APP, True)
    assert graph.entity_of("PATCH", "/v1.0/applications(uniqueName='x')") == (APP, False)
    assert graph.entity_of("PATCH", "/v1.0/applications/abc") == (APP, False)
    assert graph.entity_of("POST", "/v1.0/applications/abc/federatedIdentityCredentials") == (FIC, True)
    assert graph.entity_of("PATCH", "/v1.0/applications(appId='a')/federatedIdentityCredentials/f") == (
        FIC,
        False,
    )
    assert graph.entity_of("POST", "/v1.0/servicePrincipals") == (SP, True)
    assert graph.entity_of("POST", "/v1.0/users") == (USER, True)
    assert graph.entity_of("POST", "/v1.0/oauth2PermissionGrants") == (
        "microsoft.graph.oAuth2PermissionGrant",
        True,
    )
    assert graph.entity_of("POST", "/v1.0/applications/abc/addPassword") is None
    assert graph.entity_of("GET", "/v1.0/applications") is None


def test_a_valid_application_passes_and_each_kind_of_problem_is_named() -> None:
    good = {
        "@odata.type": "#microsoft.graph.application",
        "displayName": "App",
        "api": {
            "requestedAccessTokenVersion": 2,
            "oauth2PermissionScopes": [{"id": "0b", "value": "x", "isEnabled": True}],
        },
        "spa": {"redirectUris": ["https://a/cb"]},
        "tags": ["t"],
        "owners@odata.bind": ["https://graph.microsoft.com/v1.0/users/1"],
        "extension_0123456789abcdef0123456789abcdef_team": "blue",
        "notes": None,
    }
    assert graph.validate(APP, good, create=True, strict=True) == []
    bad = {
        "displayNam": "App",  # misspelled
        "owners": [],  # navigation, inline
        "appId": "x",  # read-only
        "tags": "t",  # not an array
        "api": {"requestedAccessTokenVersion": "2", "oauth2PermissionScopes": [{"type": 1}]},
        "@odata.type": "#microsoft.graph.user",
    }
    problems = graph.validate(APP, bad, create=True, strict=True)
    assert _kinds(problems) == [
        ("@odata.type", "odata-type"),
        ("displayNam", "unknown"),
        ("owners", "navigation"),
        ("appId", "read-only"),
        ("tags", "type"),
        ("api.requestedAccessTokenVersion", "type"),
        ("api.oauth2PermissionScopes[0].type", "type"),
        ("displayName", "missing"),
    ]
    assert graph.validate(APP, {"appId": "x"}, create=False) == []  # read-only: only strict refuses
    assert str(problems[1]).endswith("[v1.0.json#microsoft.graph.application]")


def test_enums_and_what_graph_requires_to_create() -> None:
    body = {"accountEnabled": True, "displayName": "A", "mailNickname": "a", "userPrincipalName": "a@x"}
    problems = graph.validate(USER, body, create=True)
    assert _kinds(problems) == [("passwordProfile", "missing")]
    assert graph.validate(USER, {**body, "passwordProfile": {"password": "p"}}, create=True) == []
    assert graph.validate(USER, {"accountEnabled": "yes"}, create=False)[0].kind == "type"
    grant = "microsoft.graph.oAuth2PermissionGrant"
    assert (
        graph.validate(
            grant, {"clientId": "c", "consentType": "AllPrincipals", "resourceId": "r"}, create=True
        )
        == []
    )
    enum = graph.validate(APP, {"nativeAuthenticationApisEnabled": "some"}, create=False)
    assert _kinds(enum) == [("nativeAuthenticationApisEnabled", "enum")]
    assert graph.validate(APP, {"nativeAuthenticationApisEnabled": "All"}, create=False) == []
    # a flags enum is one comma-separated string, never an array
    assert graph.validate(APP, {"nativeAuthenticationApisEnabled": "none,all"}, create=False) == []
    assert graph.validate(APP, {"nativeAuthenticationApisEnabled": ["all"]}, create=False)[0].kind == "enum"
