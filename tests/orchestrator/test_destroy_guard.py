"""A delete never takes what the lab does not own along (issue 17.7).

Deleting an APIM service deletes everything in it, and deleting a resource group everything in
the group. Something the user made inside the lab's service — in any collection APIM serves — must
stop that delete, by name, already in the plan; apply then fails the step without sending it, the
user's item survives, and the group (which would take the service along) is skipped. APIM's own
children (system groups, the administrator, the master subscription; classic tiers' samples) do
not count. Engine against the session emulator, real providers and SDKs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.providers.apim_children import is_builtin, is_logger_credential
from orchestrator.resource import Action
from tests.orchestrator.emulator_lab import lab_text, reconcile_on, write_lab
from tests.support.emulator import RunningEmulator

API = "api-version=2024-05-01"
FRAGMENT = (
    '<fragment><set-header name="x-theirs" exists-action="override"><value>1</value></set-header></fragment>'
)

# collection path -> (label in the refusal, body of an item the user creates by hand)
USER_ITEMS: dict[str, tuple[str, dict[str, Any]]] = {
    "namedValues": ("named values", {"properties": {"displayName": "theirs", "value": "their value"}}),
    "backends": ("backends", {"properties": {"url": "https://theirs.example", "protocol": "http"}}),
    "apis": ("APIs", {"properties": {"displayName": "Theirs", "path": "theirs", "protocols": ["https"]}}),
    "products": ("products", {"properties": {"displayName": "Theirs"}}),
    "subscriptions": ("subscriptions", {"properties": {"scope": "/apis", "displayName": "Theirs"}}),
    "loggers": (
        "loggers",
        {"properties": {"loggerType": "applicationInsights", "credentials": {"instrumentationKey": "k"}}},
    ),
    "policyFragments": ("policy fragments", {"properties": {"value": FRAGMENT, "format": "rawxml"}}),
    "certificates": ("certificates", {"properties": {"data": "MIIC", "password": "p"}}),
    "users": ("users", {"properties": {"email": "them@example.com", "firstName": "T", "lastName": "Heirs"}}),
    "groups": ("groups", {"properties": {"displayName": "Theirs"}}),
}


def _service_url(emu: RunningEmulator, lab: str) -> str:
    return (
        f"/subscriptions/{emu.subscription_id}/resourceGroups/rg-{lab}"
        f"/providers/Microsoft.ApiManagement/service/apim-{lab}"
    )


@pytest.mark.parametrize("collection", sorted(USER_ITEMS))
def test_a_users_item_in_the_service_stops_the_destroy_by_name(
    emulator: RunningEmulator, tmp_path: Path, collection: str
) -> None:
    name = f"guard-{collection.lower()}"
    lab = write_lab(tmp_path, lab_text(name, extra_api=False))
    assert reconcile_on(emulator, lab)[0].exit_code == 0
    label, body = USER_ITEMS[collection]
    item = f"{_service_url(emulator, name)}/{collection}/theirs?{API}"
    with emulator.sync_http() as http:
        created = http.put(item, json=body, headers=emulator.arm_headers())
        assert created.status_code in (200, 201, 202), created.text

    # the plan says so before anything is applied
    plan, requests, out = reconcile_on(emulator, lab, destroy=True, dry_run=True)
    step = plan.plan.step("apim_service.main")
    assert step.action is Action.DELETE
    assert f"{label} (theirs" in step.refused
    group = plan.plan.step("resource_group.main")  # deleting the group would delete the service
    assert f"APIM service apim-{name}, which holds " in group.refused
    assert f"{label} (theirs" in group.refused
    assert "REFUSED, will fail" in out
    assert f"{label} (theirs" in out
    assert "Refused (2): apim_service.main, resource_group.main" in out

    # apply fails that step without sending the delete; the group that holds it is skipped
    report, requests, out = reconcile_on(emulator, lab, destroy=True)
    assert report.exit_code == 1
    assert report.result is not None
    outcomes = {o.address: o for o in report.result.outcomes}
    assert outcomes["apim_service.main"].status.value == "failed"
    assert f"{label} (theirs" in outcomes["apim_service.main"].message
    assert outcomes["resource_group.main"].status.value == "skipped"
    deletes = [r["path"] for r in requests if r["method"] == "DELETE"]
    assert not [p for p in deletes if p.rstrip("/").lower().endswith((f"apim-{name}", f"rg-{name}"))]
    with emulator.sync_http() as http:
        assert http.get(item, headers=emulator.arm_headers()).status_code == 200


def test_apims_own_children_do_not_stop_a_destroy(emulator: RunningEmulator, tmp_path: Path) -> None:
    lab = write_lab(tmp_path, lab_text("guard-builtins", extra_api=False))
    assert reconcile_on(emulator, lab)[0].exit_code == 0
    base = _service_url(emulator, "guard-builtins")
    with emulator.sync_http() as http:  # what APIM itself put in the new service
        groups = http.get(f"{base}/groups?{API}", headers=emulator.arm_headers()).json()["value"]
        users = http.get(f"{base}/users?{API}", headers=emulator.arm_headers()).json()["value"]
        subs = http.get(f"{base}/subscriptions?{API}", headers=emulator.arm_headers()).json()["value"]
    assert sorted(g["name"] for g in groups) == ["administrators", "developers", "guests"]
    assert [u["name"] for u in users] == ["1"]
    assert [s["name"] for s in subs] == ["master"]
    assert "primaryKey" not in subs[0]["properties"]  # keys only through listSecrets
    plan, _, _ = reconcile_on(emulator, lab, destroy=True, dry_run=True)
    assert plan.plan.refused == ()
    report, _, _ = reconcile_on(emulator, lab, destroy=True)
    assert report.exit_code == 0


MONITORING = """monitoring:
  log_analytics:
    name: log-{name}
    retention_days: 30
  app_insights:
    name: appi-{name}
  apim_logger:
    name: appinsights-logger
  apim_diagnostic:
    sampling_percentage: 100
    verbosity: information
"""


def _named_values(emu: RunningEmulator, lab: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    url: str | None = f"{_service_url(emu, lab)}/namedValues?{API}"
    with emu.sync_http() as http:
        while url:  # pages (the session emulator's page size is 3)
            answer = http.get(url, headers=emu.arm_headers())
            assert answer.status_code == 200, answer.text
            found |= {nv["name"]: nv["properties"] for nv in answer.json()["value"]}
            url = answer.json().get("nextLink")
    return found


def _logger_lab(emulator: RunningEmulator, tmp_path: Path, name: str) -> Path:
    lab = write_lab(tmp_path, lab_text(name, extra_api=False) + MONITORING.format(name=name))
    assert reconcile_on(emulator, lab)[0].exit_code == 0
    made = {
        k: v
        for k, v in _named_values(emulator, name).items()
        if str(v.get("displayName", "")).startswith("Logger-Credentials--")
    }
    assert len(made) == 1  # the one APIM made to hold the logger's instrumentation key
    ((nv_id, props),) = made.items()
    assert props["displayName"] == f"Logger-Credentials--{nv_id}"
    assert props["secret"] is True
    return lab


def test_a_lab_with_a_logger_is_destroyed_and_only_what_it_owns_is_deleted(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    # The default lab's shape (benchmarks/e2e_local.py's destroy step). APIM keeps an Application
    # Insights logger's key in a named value it makes itself (``Logger-Credentials--<id>``) and
    # leaves it when the logger is deleted. Destroy deletes the logger before the service; the
    # service's guard then met that named value with no logger pointing at it and refused
    # ("it holds what this lab does not own — named values (<id>)"): every destroy failed.
    name = "guard-logger"
    lab = _logger_lab(emulator, tmp_path, name)
    plan, _, _ = reconcile_on(emulator, lab, destroy=True, dry_run=True)
    assert plan.plan.refused == ()
    report, requests, out = reconcile_on(emulator, lab, destroy=True)
    assert report.exit_code == 0, out
    assert report.result is not None
    assert {o.status.value for o in report.result.outcomes} == {"deleted"}
    owned = {a.lower() for a in (o.address for o in report.result.outcomes)}
    assert {"apim_service.main", "apim_logger.main", "resource_group.main"} <= owned
    # no item of the service was deleted one by one: the lab's named values and APIM's logger
    # credential went with the service
    assert not [r for r in requests if r["method"] == "DELETE" and "logger-credentials" in r["path"].lower()]
    with emulator.sync_http() as http:
        gone = http.get(f"{_service_url(emulator, name)}?{API}", headers=emulator.arm_headers())
    assert gone.status_code == 404


def test_a_logger_credential_left_by_apim_is_not_the_users_but_the_users_named_value_is(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    name = "guard-logger-theirs"
    lab = _logger_lab(emulator, tmp_path, name)
    theirs = f"{_service_url(emulator, name)}/namedValues/theirs?{API}"
    with emulator.sync_http() as http:
        created = http.put(
            theirs,
            json={"properties": {"displayName": "theirs", "value": "v"}},
            headers=emulator.arm_headers(),
        )
        assert created.status_code in (200, 201, 202), created.text
    plan, _, _ = reconcile_on(emulator, lab, destroy=True, dry_run=True)
    refused = plan.plan.step("apim_service.main").refused
    assert "named values (theirs)" in refused  # only the user's: APIM's logger credential is not listed
    report, _, out = reconcile_on(emulator, lab, destroy=True)
    assert report.exit_code == 1
    assert "named values (theirs)" in out
    with emulator.sync_http() as http:
        assert http.get(theirs, headers=emulator.arm_headers()).status_code == 200


@pytest.mark.parametrize(
    ("label", "name", "item", "builtin"),
    [
        ("groups", "administrators", {"properties": {"builtIn": True, "type": "system"}}, True),
        ("groups", "partners", {"properties": {"builtIn": False, "type": "custom"}}, False),
        ("users", "1", {"properties": {"email": "admin@example.com"}}, True),
        ("users", "2", {"properties": {"email": "someone@example.com"}}, False),
        ("subscriptions", "master", {"properties": {"scope": "/"}}, True),
        (
            "subscriptions",
            "5f1a",
            {
                "properties": {
                    "ownerId": "/subscriptions/s/x/service/a/users/1",
                    "scope": "/x/service/a/products/starter",
                }
            },
            True,
        ),
        (
            "subscriptions",
            "5f1b",
            {
                "properties": {
                    "ownerId": "/subscriptions/s/x/service/a/users/7",
                    "scope": "/x/service/a/products/starter",
                }
            },
            False,
        ),
        ("products", "starter", {"properties": {}}, True),
        ("products", "unlimited", {"properties": {}}, True),
        ("products", "gold", {"properties": {}}, False),
        ("APIs", "echo-api", {"properties": {}}, True),
        ("loggers", "azuremonitor", {"properties": {"loggerType": "azureMonitor"}}, True),
        ("loggers", "azuremonitor", {"properties": {"loggerType": "applicationInsights"}}, False),
        ("named values", "master", {"properties": {}}, False),
        ("certificates", "1", {"properties": {}}, False),
    ],
)
def test_azures_builtins_are_told_apart_by_their_contract(
    label: str, name: str, item: dict[str, Any], builtin: bool
) -> None:
    assert is_builtin(label, name, item) is builtin


@pytest.mark.parametrize(
    ("name", "props", "made_by_apim"),
    [
        (
            "66f48e1226dab62c0823e4f8",
            {"displayName": "Logger-Credentials--66f48e1226dab62c0823e4f8", "secret": True},
            True,
        ),
        (
            "66f48e1226dab62c0823e4f8",
            {"displayName": "Logger-Credentials--66f48e1226dab62c0823e4f8", "secret": False},
            False,
        ),
        ("theirs", {"displayName": "Logger-Credentials--66f48e1226dab62c0823e4f8", "secret": True}, False),
        ("theirs", {"displayName": "theirs", "secret": True}, False),
    ],
)
def test_apims_logger_credentials_are_told_apart_by_their_shape(
    name: str, props: dict[str, Any], made_by_apim: bool
) -> None:
    assert is_logger_credential(name, {"properties": props}) is made_by_apim
