from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.config import ConfigError, Settings

BASE = {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "REQUIRED_SCOPE": "user_impersonate"}


def test_defaults_are_the_original_labs() -> None:
    s = Settings.from_env(BASE)
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.issuer == "https://login.microsoftonline.com/t/v2.0"
    assert s.graph_endpoint == "https://graph.microsoft.com"
    assert s.audiences == ("c",)  # v2 tokens carry the client id; the gateway accepts no more
    assert s.managed_identity_client_id is None
    assert s.tls_cert_file is None
    assert s.keep_alive_s == 5  # uvicorn's default, made explicit


def test_local_overrides() -> None:
    s = Settings.from_env(
        {
            **BASE,
            "AZURE_MANAGED_IDENTITY_CLIENT_ID": "mi",
            "PORT": "9123",
            "AZURE_AUTHORITY_HOST": "https://127.0.0.1:4443/login/",
            "GRAPH_ENDPOINT": "https://127.0.0.1:4443",
            "TLS_CERT_FILE": "/x/cert.pem",
            "TLS_KEY_FILE": "/x/key.pem",
            "CONTAINER_APP_HOSTNAME": "127.0.0.1:9123",
            "AZURE_CLIENT_AUDIENCES": "https://gw/mcp, ",
            "HTTP_KEEP_ALIVE_S": "2",
        }
    )
    assert s.keep_alive_s == 2
    assert s.issuer == "https://127.0.0.1:4443/login/t/v2.0"
    assert s.port == 9123
    assert s.tls_cert_file == Path("/x/cert.pem")
    assert s.public_base_url == "https://127.0.0.1:9123"
    assert s.audiences == ("c", "https://gw/mcp")
    assert s.managed_identity_client_id == "mi"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"AZURE_CLIENT_ID": "c"}, "AZURE_TENANT_ID"),
        ({"AZURE_TENANT_ID": "t"}, "AZURE_CLIENT_ID"),
        ({"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}, "REQUIRED_SCOPE"),  # no constant default
        ({**BASE, "PORT": "eighty"}, "PORT"),
        ({**BASE, "PORT": "70000"}, "PORT"),
        ({**BASE, "TLS_CERT_FILE": "/x"}, "TLS_KEY_FILE"),
        ({**BASE, "AZURE_AUTHORITY_HOST": "http://login"}, "AZURE_AUTHORITY_HOST"),
        ({**BASE, "GRAPH_ENDPOINT": "http://graph"}, "GRAPH_ENDPOINT"),
        ({**BASE, "HTTP_KEEP_ALIVE_S": "2.5"}, "HTTP_KEEP_ALIVE_S"),
        ({**BASE, "HTTP_KEEP_ALIVE_S": "0"}, "HTTP_KEEP_ALIVE_S"),
    ],
)
def test_bad_configuration_names_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        Settings.from_env(env)


def test_public_base_url_prefers_the_app_fqdn_in_azure() -> None:
    env = {
        **BASE,
        "CONTAINER_APP_NAME": "mcp",
        "CONTAINER_APP_ENV_DNS_SUFFIX": "blue-1.ukwest.azurecontainerapps.io",
        "CONTAINER_APP_HOSTNAME": "mcp--rev1.blue-1.ukwest.azurecontainerapps.io",
    }
    assert Settings.from_env(env).public_base_url == "https://mcp.blue-1.ukwest.azurecontainerapps.io"
    assert (
        Settings.from_env({**env, "PUBLIC_BASE_URL": "https://x.test/"}).public_base_url == "https://x.test"
    )
