"""Who may use the Table data plane: only Entra bearer tokens the emulator issued, for storage,
held by a principal with a Storage Table Data role at the account, its group or subscription."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from tests.emulator.storage.support import (
    OWNER,
    READER,
    apim_token,
    grant,
    make_lab,
    signed_token,
    table_client,
)
from tests.emulator.storage.test_tables import _error, _headers, _path
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio


async def test_refusals(emulator: RunningEmulator, tmp_path: Path, group: str) -> None:
    lab = await make_lab(emulator, group=group)
    allowed = str(uuid.uuid4())
    await grant(emulator, lab.account_id, allowed)
    good = apim_token(emulator, tmp_path, allowed)
    url = _path(emulator, lab, "mcpclients()")
    async with emulator.http() as h:
        assert (await h.get(url, headers=_headers(good))).status_code == 200

        r = await h.get(url, headers={"x-ms-version": "2020-12-06"})
        assert (r.status_code, _error(r)[0]) == (401, "NoAuthenticationInformation")
        assert r.headers["WWW-Authenticate"] == (
            f"Bearer authorization_uri={emulator.base_url}/login/{emulator.tenant_id}/oauth2/authorize "
            "resource_id=https://storage.azure.com"
        )
        r = await h.get(url, headers=_headers("not-a-jwt"))
        assert (r.status_code, _error(r)[0]) == (401, "InvalidAuthenticationInfo")

        cases = {
            "wrong audience": signed_token(
                emulator, tmp_path, oid=allowed, aud="https://management.azure.com/"
            ),
            "expired": signed_token(emulator, tmp_path, oid=allowed, exp=int(time.time()) - 3600),
            "other issuer": signed_token(
                emulator, tmp_path, oid=allowed, iss="https://login.microsoftonline.com/x/v2.0"
            ),
        }
        for case, token in cases.items():
            r = await h.get(url, headers=_headers(token))
            assert (r.status_code, _error(r)[0]) == (403, "AuthenticationFailed"), case
            assert token not in r.text
        assert (
            "Audience validation failed"
            in _error(await h.get(url, headers=_headers(cases["wrong audience"])))[1]
        )
        forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
        r = await h.get(url, headers=_headers(forged))
        assert (r.status_code, _error(r)[0]) == (403, "AuthenticationFailed")

        for version in (None, "2017-11-09"):
            headers = _headers(good)
            headers.pop("x-ms-version")
            if version:
                headers["x-ms-version"] = version
            r = await h.get(url, headers=headers)
            assert (r.status_code, _error(r)[0]) == (403, "AuthenticationFailed")
            assert "Bearer is not supported in this version" in _error(r)[1]

        r = await h.get(
            url, headers={**_headers(good), "Authorization": f"SharedKey {lab.account}:c2lnbmF0dXJl"}
        )
        assert (r.status_code, _error(r)[0]) == (403, "KeyBasedAuthenticationNotPermitted")
        r = await h.get(url + "?sv=2020-12-06&sig=abc", headers={"x-ms-version": "2020-12-06"})
        assert (r.status_code, _error(r)[0]) == (403, "KeyBasedAuthenticationNotPermitted")

        # valid token, but no data role: Owner of the account is not enough
        owner = str(uuid.uuid4())
        await grant(emulator, lab.account_id, owner, OWNER)
        for principal in (owner, str(uuid.uuid4())):
            r = await h.get(url, headers=_headers(apim_token(emulator, tmp_path, principal)))
            assert (r.status_code, _error(r)[0]) == (403, "AuthorizationPermissionMismatch")
            assert "not authorized to perform this operation using this permission" in _error(r)[1]
        # a grant on another account does not reach this one
        other = await make_lab(emulator, group=lab.group)
        stranger = str(uuid.uuid4())
        await grant(emulator, other.account_id, stranger)
        r = await h.get(url, headers=_headers(apim_token(emulator, tmp_path, stranger)))
        assert (r.status_code, _error(r)[0]) == (403, "AuthorizationPermissionMismatch")

    async with table_client(emulator, lab, cases["wrong audience"]) as tc:
        with pytest.raises(HttpResponseError, match="AuthenticationFailed") as info:
            await tc.create_entity({"PartitionKey": "p", "RowKey": "r"})
        assert info.value.status_code == 403
        with pytest.raises(ClientAuthenticationError):  # the SDK's mapping of the code on reads
            await tc.get_entity("p", "r")


async def test_reader_reads_and_wider_scopes(emulator: RunningEmulator, tmp_path: Path, group: str) -> None:
    lab = await make_lab(emulator, group=group)
    writer, reader, group_wide, table_wide, sub_wide = (str(uuid.uuid4()) for _ in range(5))
    await grant(emulator, lab.account_id, writer)
    await grant(emulator, lab.account_id, reader, READER)
    group_id = f"/subscriptions/{emulator.subscription_id}/resourceGroups/{lab.group}"
    await grant(emulator, group_id, group_wide)
    await grant(emulator, f"{lab.account_id}/tableServices/default/tables/{lab.table}", table_wide, READER)
    await grant(emulator, f"/subscriptions/{emulator.subscription_id}", sub_wide, READER)
    async with table_client(emulator, lab, apim_token(emulator, tmp_path, writer)) as tc:
        await tc.create_entity({"PartitionKey": "p", "RowKey": "r", "V": 1})
    async with table_client(emulator, lab, apim_token(emulator, tmp_path, reader)) as tc:
        assert (await tc.get_entity("p", "r"))["V"] == 1
        with pytest.raises(HttpResponseError, match="AuthorizationPermissionMismatch") as info:
            await tc.create_entity({"PartitionKey": "p", "RowKey": "r2"})
        assert info.value.status_code == 403
        with pytest.raises(HttpResponseError, match="AuthorizationPermissionMismatch"):
            await tc.upsert_entity({"PartitionKey": "p", "RowKey": "r", "V": 2})
    async with table_client(emulator, lab, apim_token(emulator, tmp_path, group_wide)) as tc:
        await tc.upsert_entity({"PartitionKey": "p", "RowKey": "r", "V": 3})
    for principal in (table_wide, sub_wide):  # a table-scoped and a subscription-wide Reader
        async with table_client(emulator, lab, apim_token(emulator, tmp_path, principal)) as tc:
            assert (await tc.get_entity("p", "r"))["V"] == 3
    # audiences: the account's own host and the bare resource are accepted too
    for aud in (f"https://{lab.account}.table.core.windows.net", "https://storage.azure.com"):
        token = signed_token(emulator, tmp_path, oid=writer, aud=aud)
        async with table_client(emulator, lab, token) as tc:
            assert (await tc.get_entity("p", "r"))["V"] == 3


async def test_a_new_role_assignment_takes_effect_after_propagation(
    emulator: RunningEmulator, tmp_path: Path, group: str
) -> None:
    """Azure applies a role assignment after a delay (emulator.rbac): before it has propagated,
    the data plane answers 403 AuthorizationPermissionMismatch as if there were none. The delay is
    an hour here and the test ends it (no timing)."""
    lab = await make_lab(emulator, group=group)
    principal = str(uuid.uuid4())
    emulator.set_faults(rbac_propagation_s=3600)
    try:
        await grant(emulator, lab.account_id, principal)
        async with table_client(emulator, lab, apim_token(emulator, tmp_path, principal)) as tc:
            with pytest.raises(HttpResponseError, match="AuthorizationPermissionMismatch") as info:
                await tc.create_entity({"PartitionKey": "p", "RowKey": "early"})
            assert info.value.status_code == 403
            emulator.set_faults(rbac_propagation_s=0)  # propagated
            await tc.create_entity({"PartitionKey": "p", "RowKey": "late"})
            assert (await tc.get_entity("p", "late"))["RowKey"] == "late"
    finally:
        emulator.set_faults(rbac_propagation_s=0)
