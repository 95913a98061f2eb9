"""The Table service data plane through the real ``azure-data-tables`` SDK and raw HTTP: entity
CRUD, ETags and ``If-Match``, queries with ``$filter`` and paging, the JSON shapes per metadata
level, error envelopes, and what happens to entities when their account goes away."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import EdmType, EntityProperty, UpdateMode

from emulator.store import Store
from tests.emulator.storage.support import (
    API,
    Lab,
    account_body,
    apim_token,
    grant,
    make_lab,
    put,
    table_client,
)
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio

VERSION = "2020-12-06"


async def _ready(emu: RunningEmulator, tmp_path: Path, group: str) -> tuple[Lab, str]:
    lab = await make_lab(emu, group=group)
    principal = str(uuid.uuid4())
    await grant(emu, lab.account_id, principal)
    return lab, apim_token(emu, tmp_path, principal)


def _path(emu: RunningEmulator, lab: Lab, rest: str) -> str:
    return lab.endpoint.removeprefix(emu.base_url) + rest


def _headers(token: str, **extra: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "x-ms-version": VERSION,
        "Accept": "application/json;odata=nometadata",
        "Content-Type": "application/json",
        **extra,
    }


def _error(response: Any) -> tuple[str, str]:
    body = response.json()["odata.error"]
    assert response.headers["x-ms-error-code"] == body["code"]
    assert body["message"]["lang"] == "en-US"
    assert "\nRequestId:" in body["message"]["value"]
    assert "\nTime:" in body["message"]["value"]
    return str(body["code"]), str(body["message"]["value"])


async def test_entity_lifecycle_through_the_sdk(
    emulator: RunningEmulator, tmp_path: Path, group: str
) -> None:
    lab, token = await _ready(emulator, tmp_path, group)
    when = datetime(2025, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
    guid = uuid.uuid4()
    entity = {
        "PartitionKey": "client",
        "RowKey": "abc",
        "Registration": '{"client_name":"x"}',
        "Count": 7,
        "Big": EntityProperty(2**40, EdmType.INT64),
        "Ratio": 0.25,
        "Active": True,
        "When": when,
        "Id": guid,
        "Blob": b"\x00\x01binary",
    }
    async with table_client(emulator, lab, token) as tc:
        created = await tc.create_entity(entity)
        assert created["etag"].startswith("W/\"datetime'")
        with pytest.raises(ResourceExistsError, match="EntityAlreadyExists"):
            await tc.create_entity({"PartitionKey": "client", "RowKey": "abc"})
        got = await tc.get_entity("client", "abc")
        assert got.metadata["etag"] == created["etag"]
        assert (got["Registration"], got["Count"], got["Ratio"], got["Active"]) == (
            '{"client_name":"x"}',
            7,
            0.25,
            True,
        )
        assert got["Big"].value == 2**40
        assert got["When"] == when
        assert got["Id"] == guid
        assert got["Blob"] == b"\x00\x01binary"

        await tc.upsert_entity(
            {"PartitionKey": "client", "RowKey": "abc", "Extra": "merged"}, mode=UpdateMode.MERGE
        )
        merged = await tc.get_entity("client", "abc")
        assert (merged["Extra"], merged["Count"]) == ("merged", 7)
        assert merged.metadata["etag"] != created["etag"]
        await tc.upsert_entity(
            {"PartitionKey": "client", "RowKey": "abc", "Only": 1}, mode=UpdateMode.REPLACE
        )
        replaced = await tc.get_entity("client", "abc")
        assert "Count" not in replaced
        assert replaced["Only"] == 1
        await tc.upsert_entity({"PartitionKey": "client", "RowKey": "new", "V": 1})  # upsert inserts
        assert (await tc.get_entity("client", "new"))["V"] == 1

        with pytest.raises(ResourceModifiedError, match="UpdateConditionNotSatisfied"):
            await tc.update_entity(
                {"PartitionKey": "client", "RowKey": "abc", "Only": 2},
                etag=created["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        with pytest.raises(ResourceModifiedError):
            await tc.delete_entity(
                "client", "abc", etag=created["etag"], match_condition=MatchConditions.IfNotModified
            )
        await tc.delete_entity(
            "client", "abc", etag=replaced.metadata["etag"], match_condition=MatchConditions.IfNotModified
        )
        with pytest.raises(ResourceNotFoundError):
            await tc.get_entity("client", "abc")
        with pytest.raises(ResourceNotFoundError):
            await tc.update_entity({"PartitionKey": "client", "RowKey": "abc", "X": 1})  # If-Match: *
    async with table_client(emulator, lab, token, table="nosuchtable") as missing:
        with pytest.raises(ResourceNotFoundError, match="TableNotFound"):
            await missing.get_entity("a", "b")


async def test_query_filter_and_paging(emulator: RunningEmulator, tmp_path: Path, group: str) -> None:
    lab, token = await _ready(emulator, tmp_path, group)
    async with table_client(emulator, lab, token) as tc:
        for i in range(7):
            await tc.create_entity(
                {
                    "PartitionKey": "a" if i < 5 else "b",
                    "RowKey": f"r{i}",
                    "N": i,
                    "Tag": "x" if i % 2 else "y",
                }
            )
        pages = tc.query_entities("PartitionKey eq 'a' and N ge 1", results_per_page=2).by_page()
        sizes, keys = [], []
        async for p in pages:
            items = [e async for e in p]
            sizes.append(len(items))
            keys += [e["RowKey"] for e in items]
        assert (sizes, keys) == ([2, 2], ["r1", "r2", "r3", "r4"])
        tagged = [
            e["RowKey"]
            async for e in tc.query_entities(
                "(Tag eq 'x' or N eq 6) and not (PartitionKey eq 'a' and N lt 2)"
            )
        ]
        assert tagged == ["r3", "r5", "r6"]
        everything = [e async for e in tc.list_entities(select=["RowKey"])]
        assert [dict(e) for e in everything] == [{"RowKey": f"r{i}"} for i in range(7)]
        params: dict[str, Any] = {"name": "b"}
        assert [e["RowKey"] async for e in tc.query_entities("PartitionKey eq @name", parameters=params)] == [
            "r5",
            "r6",
        ]
        with pytest.raises(HttpResponseError, match="InvalidInput"):
            [e async for e in tc.query_entities("substringof('a', Tag)")]

    async with emulator.http() as h:
        r = await h.get(_path(emulator, lab, "mcpclients()"), params={"$top": "3"}, headers=_headers(token))
        assert r.status_code == 200
        assert [e["RowKey"] for e in r.json()["value"]] == ["r0", "r1", "r2"]
        next_pk = r.headers["x-ms-continuation-NextPartitionKey"]
        next_rk = r.headers["x-ms-continuation-NextRowKey"]
        r = await h.get(
            _path(emulator, lab, "mcpclients()"),
            params={"$top": "3", "NextPartitionKey": next_pk, "NextRowKey": next_rk},
            headers=_headers(token),
        )
        assert [e["RowKey"] for e in r.json()["value"]] == ["r3", "r4", "r5"]
        r = await h.get(
            _path(emulator, lab, "mcpclients()"), params={"$top": "5000"}, headers=_headers(token)
        )
        assert len(r.json()["value"]) == 7  # capped at 1000, all fit
        assert "x-ms-continuation-NextPartitionKey" not in r.headers
        r = await h.get(_path(emulator, lab, "mcpclients()"), params={"$top": "0"}, headers=_headers(token))
        assert (r.status_code, _error(r)[0]) == (400, "InvalidInput")


async def test_raw_wire_shapes(emulator: RunningEmulator, tmp_path: Path, group: str) -> None:
    lab, token = await _ready(emulator, tmp_path, group)
    entity_url = _path(emulator, lab, "mcpclients(PartitionKey='client',RowKey='o''brien')")
    async with emulator.http() as h:
        body = {
            "PartitionKey": "client",
            "RowKey": "o'brien",
            "Registration": "{}",
            "Big@odata.type": "Edm.Int64",
            "Big": "5",
        }
        r = await h.post(
            _path(emulator, lab, "mcpclients"), json=body, headers=_headers(token, Prefer="return-no-content")
        )
        assert r.status_code == 204
        assert r.headers["Preference-Applied"] == "return-no-content"
        etag = r.headers["ETag"]
        assert etag.startswith("W/\"datetime'")
        assert r.headers["x-ms-request-id"]
        assert r.headers["x-ms-version"] == VERSION
        assert r.headers["Date"]
        r = await h.post(
            _path(emulator, lab, "mcpclients"), json={**body, "RowKey": "two"}, headers=_headers(token)
        )
        assert r.status_code == 201
        assert r.json()["RowKey"] == "two"

        r = await h.get(entity_url, headers=_headers(token))
        assert r.status_code == 200
        assert r.headers["ETag"] == etag
        nometa = r.json()
        assert set(nometa) == {"PartitionKey", "RowKey", "Timestamp", "Registration", "Big"}
        assert nometa["Big"] == "5"
        r = await h.get(entity_url, headers=_headers(token, Accept="application/json;odata=minimalmetadata"))
        minimal = r.json()
        assert minimal["odata.metadata"] == f"{lab.endpoint}$metadata#mcpclients/@Element"
        assert minimal["odata.etag"] == etag
        assert minimal["Big@odata.type"] == "Edm.Int64"
        assert "Registration@odata.type" not in minimal
        assert "odata.id" not in minimal
        r = await h.get(entity_url, headers=_headers(token, Accept="application/json;odata=fullmetadata"))
        full = r.json()
        assert full["odata.type"] == f"{lab.account}.mcpclients"
        assert full["odata.id"].startswith(
            f"{lab.endpoint}mcpclients(PartitionKey='client',RowKey='o%27%27brien')"
        )
        assert full["Timestamp@odata.type"] == "Edm.DateTime"

        # MERGE verb, stale and matching If-Match, delete needs If-Match
        r = await h.request(
            "MERGE", entity_url, json={"Extra": "e"}, headers=_headers(token, **{"If-Match": etag})
        )
        assert r.status_code == 204
        new_etag = r.headers["ETag"]
        r = await h.request(
            "MERGE", entity_url, json={"Extra": "f"}, headers=_headers(token, **{"If-Match": etag})
        )
        assert (r.status_code, _error(r)[0]) == (412, "UpdateConditionNotSatisfied")
        r = await h.delete(entity_url, headers=_headers(token))
        assert (r.status_code, _error(r)[0]) == (400, "MissingRequiredHeader")
        r = await h.delete(entity_url, headers=_headers(token, **{"If-Match": etag}))
        assert (r.status_code, _error(r)[0]) == (412, "UpdateConditionNotSatisfied")
        r = await h.delete(entity_url, headers=_headers(token, **{"If-Match": new_etag}))
        assert r.status_code == 204
        r = await h.delete(entity_url, headers=_headers(token, **{"If-Match": "*"}))
        assert (r.status_code, _error(r)[0]) == (404, "ResourceNotFound")
        r = await h.get(entity_url, headers=_headers(token))
        assert (r.status_code, _error(r)[0]) == (404, "ResourceNotFound")

        post = _path(emulator, lab, "mcpclients")
        for bad_key in ("a/b", "a#b", "a?b", "a\\b", "a\x01b", "k" * 600):
            r = await h.post(post, json={"PartitionKey": "p", "RowKey": bad_key}, headers=_headers(token))
            assert (r.status_code, _error(r)[0]) == (400, "OutOfRangeInput"), bad_key
        r = await h.post(post, json={"PartitionKey": "p"}, headers=_headers(token))
        assert (r.status_code, _error(r)[0]) == (400, "PropertiesNeedValue")
        r = await h.post(
            post,
            json={"PartitionKey": "p", "RowKey": "r", "N@odata.type": "Edm.Int32", "N": "x"},
            headers=_headers(token),
        )
        assert (r.status_code, _error(r)[0]) == (400, "InvalidInput")
        chunk = "x" * 30_000
        huge = {"PartitionKey": "p", "RowKey": "r", **{f"P{i}": chunk for i in range(20)}}
        r = await h.post(post, json=huge, headers=_headers(token))
        assert (r.status_code, _error(r)[0]) == (400, "EntityTooLarge")
        r = await h.post(
            post, json={"PartitionKey": "p", "RowKey": "r", "S": "x" * 40_000}, headers=_headers(token)
        )
        assert (r.status_code, _error(r)[0]) == (400, "PropertyValueTooLarge")
        r = await h.post(
            _path(emulator, lab, "nosuch"), json={"PartitionKey": "p", "RowKey": "r"}, headers=_headers(token)
        )
        assert (r.status_code, _error(r)[0]) == (404, "TableNotFound")
        r = await h.post(_path(emulator, lab, "$batch"), content=b"", headers=_headers(token))
        assert (r.status_code, _error(r)[0]) == (501, "NotImplemented")
        binary = base64.b64encode(b"\xff" * 10).decode()
        r = await h.post(
            post,
            json={"PartitionKey": "p", "RowKey": "bin", "B@odata.type": "Edm.Binary", "B": binary},
            headers=_headers(token, Accept="application/json;odata=minimalmetadata"),
        )
        assert r.status_code == 201
        assert (r.json()["B"], r.json()["B@odata.type"]) == (binary, "Edm.Binary")


async def test_tables_collection_on_the_data_plane(
    emulator: RunningEmulator, tmp_path: Path, group: str
) -> None:
    lab, token = await _ready(emulator, tmp_path, group)
    async with emulator.http() as h:
        r = await h.get(_path(emulator, lab, "Tables"), headers=_headers(token))
        assert [t["TableName"] for t in r.json()["value"]] == ["mcpclients"]
        r = await h.post(
            _path(emulator, lab, "Tables"), json={"TableName": "Second"}, headers=_headers(token)
        )
        assert r.status_code == 201
        r = await h.post(
            _path(emulator, lab, "Tables"), json={"TableName": "second"}, headers=_headers(token)
        )
        assert (r.status_code, _error(r)[0]) == (409, "TableAlreadyExists")
    async with emulator.resource_client() as rc:  # the data plane's table is ARM's table
        got = await rc.resources.get_by_id(
            f"{lab.account_id}/tableServices/default/tables/Second", api_version=API
        )
        assert got.properties["tableName"] == "Second"
    async with table_client(emulator, lab, token, table="Second") as tc:
        await tc.create_entity({"PartitionKey": "p", "RowKey": "r"})
        await tc.delete_table()
    async with emulator.http() as h:
        r = await h.get(_path(emulator, lab, "Tables"), headers=_headers(token))
        assert [t["TableName"] for t in r.json()["value"]] == ["mcpclients"]


async def test_account_delete_removes_tables_and_entities(
    emulator: RunningEmulator, tmp_path: Path, group: str
) -> None:
    lab, token = await _ready(emulator, tmp_path, group)
    async with table_client(emulator, lab, token) as tc:
        for i in range(3):
            await tc.create_entity({"PartitionKey": "p", "RowKey": str(i)})
    async with emulator.resource_client() as rc:
        await (await rc.resources.begin_delete_by_id(lab.account_id, api_version=API)).result()
    store = Store(emulator.state_dir / "emulator.sqlite")
    try:
        assert store.list_prefix(lab.account_id.lower() + "/", "storage/") == []
    finally:
        store.close()
    async with emulator.http() as h:
        r = await h.get(_path(emulator, lab, "mcpclients()"), headers=_headers(token))
        assert (r.status_code, _error(r)[0]) == (404, "ResourceNotFound")
    # same names again: nothing of the old rows comes back (the role went with the account too)
    async with emulator.resource_client() as rc:
        await put(rc, lab.account_id, account_body())
        await put(rc, f"{lab.account_id}/tableServices/default/tables/{lab.table}", {"properties": {}})
    principal = str(uuid.uuid4())
    await grant(emulator, lab.account_id, principal)
    async with table_client(emulator, lab, apim_token(emulator, tmp_path, principal)) as tc:
        assert [e async for e in tc.list_entities()] == []
    async with emulator.http() as h:  # the old principal's assignment died with the old account
        r = await h.get(_path(emulator, lab, "mcpclients()"), headers=_headers(token))
        assert (r.status_code, _error(r)[0]) == (403, "AuthorizationPermissionMismatch")
