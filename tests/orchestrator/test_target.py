"""Client wiring per target (no network: building clients makes no call)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from orchestrator import clouds
from orchestrator.errors import TargetError
from orchestrator.target import TargetSettings, open_clients

pytestmark = pytest.mark.anyio

SUB = "00000000-0000-0000-0000-0000000000aa"
TENANT = "11111111-1111-1111-1111-111111111111"


async def test_local_target_needs_the_ca_file(tmp_path: Path) -> None:
    settings = TargetSettings(
        "local", SUB, TENANT, "rg", "local", base_url="https://127.0.0.1:1", ca_file=tmp_path / "missing.pem"
    )
    with pytest.raises(TargetError, match="CA file"):
        async with open_clients(settings):
            pass
    no_url = TargetSettings("local", SUB, TENANT, "rg", "local")
    with pytest.raises(TargetError, match="base URL"):
        async with open_clients(no_url):
            pass


async def test_local_clients_point_at_the_emulator(emulator_ca: Path) -> None:
    settings = TargetSettings(
        "local", SUB, TENANT, "rg", "local", base_url="https://127.0.0.1:4443", ca_file=emulator_ca
    )
    with anyio.fail_after(10):
        async with open_clients(settings) as clients:
            assert clients.apim._client._base_url == "https://127.0.0.1:4443"
            assert clients.resources._config.base_url == "https://127.0.0.1:4443"
            adapter = clients.graph.request_adapter
            assert adapter.base_url == "https://127.0.0.1:4443/v1.0"
            assert clients.apim._config.polling_interval == 0.05
            assert clients.resource_group == "rg"


async def test_azure_clients_use_public_endpoints() -> None:
    settings = TargetSettings("azure", SUB, TENANT, "rg", "ukwest")
    assert settings.effective_polling_interval() == 5.0
    with anyio.fail_after(10):
        async with open_clients(settings) as clients:
            assert clients.apim._client._base_url.startswith("https://management.azure.com")
            assert clients.graph.request_adapter.base_url == "https://graph.microsoft.com/v1.0"
            credential = clients.apim._config.credential
            assert type(credential).__name__ == "TenantCredential"
            assert type(credential.inner).__name__ == "DefaultAzureCredential"
            assert credential.tenant_id == TENANT
            assert clients.apim._config.polling_interval == 5.0


@pytest.fixture
def emulator_ca(tmp_path: Path) -> Path:
    """A real CA certificate file (what the emulator writes to its state folder)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.mark.parametrize("name", clouds.NAMES)
async def test_azure_clients_use_the_lab_clouds_endpoints(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # a service principal in the environment (nothing is sent: building clients makes no call)
    monkeypatch.setenv("AZURE_TENANT_ID", TENANT)
    monkeypatch.setenv("AZURE_CLIENT_ID", "22222222-2222-2222-2222-222222222222")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-a-secret")
    cloud = clouds.cloud(name)
    settings = TargetSettings("azure", SUB, TENANT, "rg", "ukwest", cloud=cloud)
    with anyio.fail_after(10):
        async with open_clients(settings) as clients:
            assert clients.apim._client._base_url == cloud.resource_manager
            assert clients.resources._config.credential_scopes == [cloud.arm_scope]
            assert clients.graph.request_adapter.base_url == f"{cloud.graph}/v1.0"
            inner = clients.apim._config.credential.inner
            # every credential of the chain signs in at the cloud's authority
            environment = inner.credentials[0]
            assert type(environment).__name__ == "EnvironmentCredential"
            client = environment._credential._client
            assert client._authority == cloud.authority
            assert TENANT in client._additionally_allowed_tenants
    outputs = settings.outputs()
    assert outputs["authority"] == cloud.authority
    assert outputs["issuer"] == f"{cloud.authority}/{TENANT}/v2.0"
    assert outputs["graph_endpoint"] == cloud.graph
