"""What a local container-app process gets in its environment (pure)."""

from __future__ import annotations

from pathlib import Path

from emulator.runner.environment import LocalTarget, process_env
from emulator.runner.spec import parse_app
from tests.emulator.runner.test_spec import KEY, container_app

TARGET = LocalTarget(
    base_url="https://127.0.0.1:4443",
    identity_base="https://127.0.0.1:4443/login",
    cert_file=Path("/state/server.pem"),
    key_file=Path("/state/server-key.pem"),
    ca_bundle=Path("/state/apps/ca-bundle.pem"),
    source_root=Path("/src"),
)


def test_the_local_target_owns_host_port_tls_and_endpoints() -> None:
    body = container_app()
    body["properties"]["template"]["containers"][0]["env"] += [
        {"name": "HOST", "value": "0.0.0.0"},
        {"name": "PORT", "value": "8000"},
        {"name": "AZURE_AUTHORITY_HOST", "value": "https://login.microsoftonline.com"},
        {"name": "IDENTITY_HEADER", "value": "guessed"},
    ]
    env = process_env(
        parse_app(KEY, body), TARGET, "secret-1", {"PATH": "/bin", "AWS_SECRET": "x", "MSI_ENDPOINT": "y"}
    )
    assert env["HOST"] == "127.0.0.1"
    assert env["PORT"] == "45678"
    assert env["TLS_CERT_FILE"] == "/state/server.pem"
    assert env["TLS_KEY_FILE"] == "/state/server-key.pem"
    assert env["AZURE_AUTHORITY_HOST"] == "https://127.0.0.1:4443/login"
    assert env["GRAPH_ENDPOINT"] == "https://127.0.0.1:4443"
    assert env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"] == "/state/apps/ca-bundle.pem"
    assert env["IDENTITY_ENDPOINT"] == "https://127.0.0.1:4443/msi/token"
    assert env["IDENTITY_HEADER"] == "secret-1"
    assert env["CONTAINER_APP_HOSTNAME"] == "127.0.0.1:45678"
    assert env["HTTP_KEEP_ALIVE_S"] == "2"  # ports.APP_KEEP_ALIVE_S: the verifier idles past it
    # The container's own env comes through; the emulator's unrelated environment does not.
    assert env["AZURE_TENANT_ID"] == "t"
    assert env["SECRET_THING"] == "hunter2"
    assert env["PATH"] == "/bin"
    assert "AWS_SECRET" not in env
    assert "MSI_ENDPOINT" not in env
    assert env["PYTHONPATH"] == "/src"
