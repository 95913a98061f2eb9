"""Products, product policies and subscriptions of lab.yaml through the engine, the real providers
and azure-mgmt-apimanagement against the session emulator (issue 20): plan, apply, a second run
that changes nothing, the verification's ``subscriptions`` checks (401 without a key, admitted
with the key read through ``listSecrets``), pruning, and the key never in any output."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from orchestrator.resource import Action
from orchestrator.verify.model import Outcome
from tests.orchestrator.emulator_lab import lab_text, reconcile_on, settings_for, write_lab, writes
from tests.support.emulator import RunningEmulator

POLICY = """    policy:
      template: product-quota
      variables:
        calls: 2
        renewal_period: 3600
"""


def products_lab(name: str, *, policy: bool = True, subscription: bool = True) -> str:
    text = lab_text(name)
    # the extra API needs a key; the MCP API (the PRM operation) stays open
    head, _, tail = text.partition("    extra:\n")
    text = (
        head + "    extra:\n" + tail.replace("subscription_required: false", "subscription_required: true", 1)
    )
    text += "  products:\n    partners:\n      display_name: Partners\n      apis: [extra]\n"
    if policy:
        text += "\n".join("  " + line if line else line for line in POLICY.splitlines()) + "\n"
    if subscription:
        text += (
            "  subscriptions:\n    partner-key:\n      display_name: Partner key\n      product: partners\n"
        )
    return text


def _service(emu: RunningEmulator, lab_file: Path) -> tuple[str, str, Any]:
    from orchestrator.spec.defaults import with_global_names
    from orchestrator.spec.loader import load_lab

    lab = with_global_names(load_lab(lab_file), emu.subscription_id)
    return lab.target.resource_group, str(lab.apim.service.name), lab


def test_products_and_subscriptions_reconcile_verify_and_prune(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    lab_file = write_lab(tmp_path, products_lab("subs-lab"))
    report, requests, out = reconcile_on(emulator, lab_file)
    assert report.exit_code == 0, out
    created = {s.address for s in report.plan.changes}
    assert {"product.partners", "product_policy.partners", "subscription.partner-key"} <= created
    rg, service, lab = _service(emulator, lab_file)

    async def secrets() -> tuple[str, str, str]:
        async with emulator.apim_client() as c:
            got = await c.subscription.list_secrets(rg, service, "partner-key")
            sub = await c.subscription.get(rg, service, "partner-key")
            apis = [a.name async for a in c.product_api.list_by_product(rg, service, "partners")]
            assert apis == ["extra"]
            assert str(sub.display_name) == "Partner key [prmlab-lab:subs-lab]"
            return str(got.primary_key), str(got.secondary_key), str(sub.scope)

    primary, secondary, scope = anyio.run(secrets)
    assert scope.endswith("/products/partners")
    # a second run: nothing to do
    again, requests, out = reconcile_on(emulator, lab_file, detailed_exitcode=True)
    assert not again.plan.has_changes, out
    assert writes(requests) == []

    # the verification's subscriptions checks, against the gateway
    from orchestrator.verify.subscriptions import check_subscriptions

    outputs = {s.address: dict(s.actual.outputs) for s in again.plan.steps if s.actual is not None}
    settings = settings_for(emulator, lab)

    @asynccontextmanager
    async def open_apim() -> AsyncIterator[Any]:
        from orchestrator.target import open_clients

        async with open_clients(settings) as clients:
            yield clients.apim

    async def verify() -> list[Any]:
        trust = ssl.create_default_context(cafile=str(emulator.ca_file))
        async with httpx.AsyncClient(verify=trust) as http:
            results = await check_subscriptions(lab, outputs, open_apim, http)
            # the product's quota (2 calls an hour per subscription): the check's call with the
            # key counted one, this one is the second, the next is refused
            url = str(outputs["api.extra"]["url"]) + "/items"
            headers = {"Ocp-Apim-Subscription-Key": primary}
            assert (await http.get(url, headers=headers)).status_code != 403
            over = await http.get(url, headers=headers)
            assert over.status_code == 403
            assert over.json()["message"].startswith("Out of call volume quota.")
            return list(results)

    results = anyio.run(verify)
    assert [(r.name, r.outcome) for r in results] == [
        ("subscriptions.partner-key.without_key", Outcome.PASS),
        ("subscriptions.partner-key.with_key", Outcome.PASS),
    ]
    for text in (out, *(r.detail for r in results), *(str(r) for r in requests)):
        assert primary not in text
        assert secondary not in text

    # dropping the policy and the subscription from lab.yaml prunes them, nothing else
    write_lab(tmp_path, products_lab("subs-lab", policy=False, subscription=False))
    pruned, requests, out = reconcile_on(emulator, lab_file)
    assert pruned.exit_code == 0, out
    assert {(s.address, s.action) for s in pruned.plan.changes} == {
        ("product_policy.partners", Action.DELETE),
        ("subscription.partner-key", Action.DELETE),
    }
    assert primary not in out


def test_the_product_follows_its_apis_list(emulator: RunningEmulator, tmp_path: Path) -> None:
    lab_file = write_lab(tmp_path, products_lab("subs-apis", policy=False, subscription=False))
    assert reconcile_on(emulator, lab_file)[0].exit_code == 0
    write_lab(
        tmp_path,
        products_lab("subs-apis", policy=False, subscription=False).replace("apis: [extra]", "apis: [mcp]"),
    )
    report, _, out = reconcile_on(emulator, lab_file)
    assert [(s.address, s.action) for s in report.plan.changes] == [("product.partners", Action.UPDATE)]
    assert "apis" in out
    rg, service, _ = _service(emulator, lab_file)

    async def apis() -> list[str]:
        async with emulator.apim_client() as c:
            return [str(a.name) async for a in c.product_api.list_by_product(rg, service, "partners")]

    assert anyio.run(apis) == ["mcp"]
    assert not reconcile_on(emulator, lab_file)[0].plan.has_changes


def test_trace_sends_the_labs_subscription_key(
    emulator: RunningEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``prmlab trace`` of an API that needs a subscription key sends the primary key of the lab's
    subscription for it (read through listSecrets, never printed): traced past the key check,
    not APIM's 401 "missing subscription key" (which it got before); ``--subscription none``
    traces that refusal."""
    from orchestrator.cli import main
    from orchestrator.target import TargetSettings
    from orchestrator.verify.subscriptions import subscription_for

    lab_file = write_lab(tmp_path, products_lab("trace-subs", policy=False))
    report, _, out = reconcile_on(emulator, lab_file)
    assert report.exit_code == 0, out
    rg, service, lab = _service(emulator, lab_file)
    assert subscription_for(lab, "extra") == "partner-key"
    assert subscription_for(lab, "mcp") is None  # needs no key
    monkeypatch.setattr(TargetSettings, "for_lab", classmethod(lambda cls, lab: settings_for(emulator, lab)))

    def trace(*extra: str) -> tuple[int, dict[str, Any], str]:
        with pytest.raises(SystemExit) as exited:
            main(["trace", "GET", "/extra/items", "-f", str(lab_file), "--output", "json", *extra])
        printed, err = capsys.readouterr()
        code = exited.value.code
        assert isinstance(code, int)
        return code, (json.loads(printed) if code == 0 else {}), printed + err

    async def primary() -> str:
        async with emulator.apim_client() as c:
            return str((await c.subscription.list_secrets(rg, service, "partner-key")).primary_key)

    key = anyio.run(primary)
    code, doc, shown = trace()
    assert code == 0, shown
    assert doc["request"]["status"] != 401, doc["request"]
    assert key not in shown
    # without the key the gateway refuses before any policy runs: no trace, and the error says why
    code, _, shown = trace("--subscription", "none")
    assert code == 1, shown
    assert "answered 401 without a trace ('Access denied due to missing subscription key." in shown
    assert "pass --subscription with the lab.yaml key of a subscription for this API" in shown
    code, _, shown = trace("--subscription", "nope")
    assert code == 2
    assert "unknown subscription 'nope': the lab's subscriptions are partner-key" in shown
