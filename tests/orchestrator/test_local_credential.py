"""The local target's credential signs in as the emulator's local operator and gets real tokens
from the identity service (issue 17.10): ARM and Graph audiences, signed with the service's key,
cached per scope; without the operator file, one clear error."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from emulator.identity.operator import OPERATOR, OPERATOR_GRAPH_ROLES
from orchestrator.errors import TargetError
from orchestrator.local_credential import LocalCredential
from tests.support.emulator import RunningEmulator

pytestmark = pytest.mark.anyio


async def test_it_gets_real_arm_and_graph_tokens_from_the_identity_service(emulator: RunningEmulator) -> None:
    cred = LocalCredential(emulator.base_url, emulator.tenant_id, emulator.ca_file)
    arm = await cred.get_token("https://management.azure.com/.default")
    graph = await cred.get_token_info("https://graph.microsoft.com/.default")
    with emulator.sync_http() as http:
        jwks = http.get(f"/login/{emulator.tenant_id}/discovery/v2.0/keys").json()
    for token, audience, roles in (
        (arm.token, "https://management.azure.com/", None),
        # the Graph application permissions the operator holds (the preflight reads them)
        (graph.token, "00000003-0000-0000-c000-000000000000", list(OPERATOR_GRAPH_ROLES)),
    ):
        kid = jwt.get_unverified_header(token)["kid"]
        key = next(k for k in jwks["keys"] if k["kid"] == kid)
        claims = jwt.decode(token, jwt.PyJWK(key).key, algorithms=["RS256"], audience=audience)
        assert claims["tid"] == emulator.tenant_id
        assert claims["idtyp"] == "app"
        assert claims["oid"] == OPERATOR  # the subscription's Owner (emulator.arm.authz)
        assert claims.get("roles") == roles
    assert (await cred.get_token("https://management.azure.com/.default")).token == arm.token  # cached


async def test_without_the_operator_file_it_says_how_to_recover(
    tmp_path: Path, emulator: RunningEmulator
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(emulator.ca_file.read_bytes())
    cred = LocalCredential(emulator.base_url, emulator.tenant_id, ca)
    with pytest.raises(TargetError, match=r"operator\.json is missing or unreadable.*restart the emulator"):
        await cred.get_token("https://management.azure.com/.default")
