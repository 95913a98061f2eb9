"""APIM entities through azure-mgmt-apimanagement aio: named values, APIs, operations, policies,
fragments, backends, loggers, diagnostics, tags, If-Match, the per-API write lock, cascades."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from tests.support.azure import group_and_service_name
from tests.support.emulator import EmulatorFactory, RunningEmulator

pytestmark = pytest.mark.anyio

POLICY = (
    "<policies><inbound><base /><set-header name='x-tenant' exists-action='override'>"
    "<value>{{tenant-id}}</value></set-header></inbound><backend><base /></backend>"
    "<outbound><base /></outbound><on-error><base /></on-error></policies>"
)


async def _api(c: Any, group: str, svc: str, api: str = "echo", path: str = "echo", **props: Any) -> Any:
    body = {
        "display_name": api,
        "path": path,
        "protocols": ["https"],
        "service_url": "http://127.0.0.1:9",
        **props,
    }
    return await (await c.api.begin_create_or_update(group, svc, api, body)).result()


async def test_named_values_hide_secrets(emulator: RunningEmulator) -> None:
    async with emulator.apim_client() as c:
        group, svc = await group_and_service_name(emulator, c)
        secret = await (
            await c.named_value.begin_create_or_update(
                group, svc, "tid", {"display_name": "tenant-id", "value": "s3cr3t", "secret": True}
            )
        ).result()
        plain = await (
            await c.named_value.begin_create_or_update(
                group, svc, "plain", {"display_name": "plain", "value": "visible"}
            )
        ).result()
        assert secret.value is None
        assert secret.secret is True
        assert plain.value == "visible"
        assert (await c.named_value.get(group, svc, "tid")).value is None
        assert all(
            n.value is None for n in [n async for n in c.named_value.list_by_service(group, svc)] if n.secret
        )
        assert (await c.named_value.list_value(group, svc, "tid")).value == "s3cr3t"
        with pytest.raises(HttpResponseError, match="displayName"):
            await c.named_value.begin_create_or_update(
                group, svc, "dup", {"display_name": "tenant-id", "value": "x"}
            )
        await c.named_value.delete(group, svc, "plain", if_match="*")
        with pytest.raises(ResourceNotFoundError):
            await c.named_value.get(group, svc, "plain")
    assert all(
        "s3cr3t" not in line for line in (emulator.state_dir / "requests.jsonl").read_text().splitlines()
    )


async def test_apis_types_paths_and_delete_status(emulator: RunningEmulator) -> None:
    async with emulator.apim_client() as c:
        group, svc = await group_and_service_name(emulator, c)
        echo = await _api(c, group, svc)
        assert (echo.path, echo.api_type, echo.subscription_required) == ("echo", "http", True)
        tools = await _api(c, group, svc, "tools", "tools", type="websocket", subscription_required=False)
        assert tools.api_type == "websocket"
        with pytest.raises(HttpResponseError) as refused:
            await _api(c, group, svc, "other", "echo")
        # APIM's words (Azure/apiops#697, #712; Azure/azure-powershell#11027)
        assert refused.value.status_code == 400
        assert refused.value.error is not None
        assert refused.value.error.code == "ValidationError"
        assert [(d.target, d.message) for d in refused.value.error.details] == [
            (
                "path",
                "Cannot create API 'other' with the same Path 'echo' as API 'echo'  unless it's a part of the same version set",
            )
        ]
        op = await c.api_operation.create_or_update(
            group, svc, "echo", "get-root", {"display_name": "Get", "method": "get", "url_template": "/"}
        )
        assert op.method == "GET"
        with pytest.raises(HttpResponseError, match="urlTemplate"):
            await c.api_operation.create_or_update(
                group, svc, "echo", "bad", {"display_name": "Bad", "method": "GET"}
            )
        # operations under a missing API
        with pytest.raises(ResourceNotFoundError):
            await c.api_operation.create_or_update(
                group, svc, "nope", "x", {"display_name": "x", "method": "GET", "url_template": "/"}
            )
        # API delete answers 202 (the SDK accepts only 202/204) and deletes the operations
        await (await c.api.begin_delete(group, svc, "echo", if_match="*")).result()
        with pytest.raises(ResourceNotFoundError):
            await c.api_operation.get(group, svc, "echo", "get-root")
        assert [a.name async for a in c.api.list_by_service(group, svc)] == ["tools"]
    # this service's API only: the session emulator's log holds every test's requests
    mine = f"/service/{svc}/apis/echo"
    deletes = [r for r in emulator.requests() if r["method"] == "DELETE" and r["path"].endswith(mine)]
    assert [r["status"] for r in deletes] == [202]


async def test_policies_are_reformatted_and_checked(emulator: RunningEmulator) -> None:
    async with emulator.apim_client() as c:
        group, svc = await group_and_service_name(emulator, c)
        await _api(c, group, svc)
        await c.api_operation.create_or_update(
            group, svc, "echo", "op", {"display_name": "Op", "method": "GET", "url_template": "/"}
        )
        with pytest.raises(HttpResponseError, match="tenant-id") as missing:
            await c.api_policy.create_or_update(
                group, svc, "echo", "policy", {"value": POLICY, "format": "rawxml"}
            )
        assert missing.value.status_code == 400
        assert missing.value.error is not None
        assert missing.value.error.code == "ValidationError"
        await (
            await c.named_value.begin_create_or_update(
                group, svc, "tid", {"display_name": "tenant-id", "value": "t"}
            )
        ).result()
        stored = await c.api_policy.create_or_update(
            group, svc, "echo", "policy", {"value": POLICY, "format": "rawxml"}
        )
        assert stored.value.startswith("<policies>\n\t<inbound>")
        assert 'name="x-tenant"' in stored.value
        got = await c.api_policy.get(group, svc, "echo", "policy", format="rawxml")
        assert (got.value, got.format) == (stored.value, "rawxml")
        assert (await c.api_policy.get(group, svc, "echo", "policy")).format == "xml"
        with pytest.raises(HttpResponseError, match="ValidationError"):
            await c.api_policy.create_or_update(
                group, svc, "echo", "policy", {"value": "<policies><inbound>", "format": "rawxml"}
            )
        # operation-level and service-level policies
        op_pol = await c.api_operation_policy.create_or_update(
            group, svc, "echo", "op", "policy", {"value": POLICY, "format": "xml"}
        )
        assert op_pol.value == stored.value
        svc_pol = await c.policy.create_or_update(
            group,
            svc,
            "policy",
            {
                "value": "<policies><inbound/><backend><forward-request/></backend><outbound/><on-error/></policies>",
                "format": "rawxml",
            },
        )
        assert "<forward-request/>" in svc_pol.value
        # fragments: stored reformatted; a policy including a missing fragment is refused
        frag = await (
            await c.policy_fragment.begin_create_or_update(
                group,
                svc,
                "cors",
                {
                    "value": "<fragment><cors><allowed-origins><origin>*</origin></allowed-origins></cors></fragment>",
                    "format": "rawxml",
                },
            )
        ).result()
        assert frag.value.startswith("<fragment>\n\t<cors>")
        with pytest.raises(HttpResponseError, match="fragment"):
            await c.api_policy.create_or_update(
                group,
                svc,
                "echo",
                "policy",
                {
                    "value": "<policies><inbound><include-fragment fragment-id='nope' /></inbound></policies>",
                    "format": "rawxml",
                },
            )
        await c.api_policy.create_or_update(
            group,
            svc,
            "echo",
            "policy",
            {
                "value": "<policies><inbound><include-fragment fragment-id='cors' /></inbound></policies>",
                "format": "rawxml",
            },
        )
        await c.api_policy.delete(group, svc, "echo", "policy", if_match="*")
        with pytest.raises(ResourceNotFoundError):
            await c.api_policy.get(group, svc, "echo", "policy")


async def test_if_match_and_etags(emulator: RunningEmulator) -> None:
    async with emulator.apim_client() as c:
        group, svc = await group_and_service_name(emulator, c)
        await c.backend.create_or_update(group, svc, "b1", {"url": "http://127.0.0.1:9", "protocol": "http"})
        etag = await c.backend.get_entity_tag(group, svc, "b1")
        assert etag
        with pytest.raises(HttpResponseError, match="PreconditionFailed"):
            await c.backend.update(group, svc, "b1", '"999"', {"description": "x"})
        updated = await c.backend.update(group, svc, "b1", "*", {"description": "x"})
        assert updated.description == "x"
        with pytest.raises(HttpResponseError, match="PreconditionFailed"):
            await c.backend.delete(group, svc, "b1", if_match='"1"')
        await c.backend.delete(group, svc, "b1", if_match="*")
        with pytest.raises(HttpResponseError, match="url"):
            await c.backend.create_or_update(group, svc, "b2", {"protocol": "http"})
        with pytest.raises(HttpResponseError, match="PreconditionFailed"):
            await c.backend.create_or_update(
                group, svc, "b3", {"url": "http://x", "protocol": "http"}, if_match='"5"'
            )


async def test_loggers_hide_credentials_and_diagnostics_need_a_logger(emulator: RunningEmulator) -> None:
    async with emulator.apim_client() as c:
        group, svc = await group_and_service_name(emulator, c)
        logger = await c.logger.create_or_update(
            group,
            svc,
            "ai",
            {"logger_type": "applicationInsights", "credentials": {"instrumentationKey": "ikey-secret"}},
        )
        ref = logger.credentials["instrumentationKey"]
        assert ref.startswith("{{Logger-Credentials--")
        assert "ikey-secret" not in ref
        hidden = [n async for n in c.named_value.list_by_service(group, svc)]
        assert len(hidden) == 1
        assert hidden[0].secret
        assert hidden[0].value is None
        assert (await c.named_value.list_value(group, svc, hidden[0].name)).value == "ikey-secret"
        with pytest.raises(HttpResponseError, match="Logger"):
            await c.diagnostic.create_or_update(
                group, svc, "applicationinsights", {"logger_id": "/loggers/missing"}
            )
        diag = await c.diagnostic.create_or_update(
            group, svc, "applicationinsights", {"logger_id": logger.id, "always_log": "allErrors"}
        )
        assert diag.logger_id == logger.id
        await _api(c, group, svc)
        api_diag = await c.api_diagnostic.create_or_update(
            group, svc, "echo", "applicationinsights", {"logger_id": logger.id}
        )
        assert api_diag.logger_id == logger.id


async def test_tags_on_service_and_apis(emulator: RunningEmulator) -> None:
    async with emulator.apim_client() as c:
        group, svc = await group_and_service_name(emulator, c)
        await _api(c, group, svc)
        await c.tag.create_or_update(group, svc, "lab", {"display_name": "prmlab"})
        linked = await c.tag.assign_to_api(group, svc, "echo", "lab")
        assert linked.display_name == "prmlab"
        assert [t.name async for t in c.tag.list_by_api(group, svc, "echo")] == ["lab"]
        with pytest.raises(ResourceNotFoundError):
            await c.tag.assign_to_api(group, svc, "echo", "unknown")


async def test_deleting_the_service_deletes_children(emulator: RunningEmulator) -> None:
    async with emulator.apim_client() as c:
        group, svc = await group_and_service_name(emulator, c)
        await _api(c, group, svc)
        await (await c.api_management_service.begin_delete(group, svc)).result()
        with pytest.raises(ResourceNotFoundError):
            await c.api.get(group, svc, "echo")
        await (await c.deleted_services.begin_purge(svc, "westeurope")).result()


async def test_overlapping_writes_to_one_api_conflict(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("--apim-create-seconds", "0", "--api-write-seconds", "0.3")
    results: list[BaseException | None] = []

    async with emu.apim_client(retry_total=0) as c:
        group, svc = await group_and_service_name(emu, c)
        await _api(c, group, svc)

        async def put_op(name: str) -> None:
            try:
                await c.api_operation.create_or_update(
                    group,
                    svc,
                    "echo",
                    name,
                    {"display_name": name, "method": "GET", "url_template": f"/{name}"},
                )
                results.append(None)
            except HttpResponseError as exc:
                results.append(exc)

        async with anyio.create_task_group() as tg:
            tg.start_soon(put_op, "a")
            tg.start_soon(put_op, "b")
        await _api(c, group, svc, "other", "other")  # a different API is never blocked
    errors = [r for r in results if r is not None]
    assert len(errors) == 1
    assert isinstance(errors[0], ResourceExistsError)
    assert errors[0].status_code == 409
    assert errors[0].error is not None
    assert errors[0].error.code == "PessimisticConcurrencyConflict"
