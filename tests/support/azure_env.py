"""Nothing a test builds may sign in beyond 127.0.0.1: the Azure credential chain, isolated.

``isolate(environ)`` runs once per test session (``tests/conftest.py``, ``pytest_configure``,
before any test and for every subprocess the tests start):

* azure-identity's managed-identity probe (IMDS, ``169.254.169.254``, not loopback) is pointed at
  ``AZURE_POD_IDENTITY_AUTHORITY_HOST`` = a 127.0.0.1 port that is bound and never listens
  (refused at once), held for the session;
* the developer credentials of ``DefaultAzureCredential`` (Azure CLI, Azure PowerShell, Azure
  Developer CLI, VS Code, the shared token cache, the broker) are excluded:
  ``AZURE_TOKEN_CREDENTIALS=prod`` (azure-identity >= 1.23 keeps only environment, workload
  identity and managed identity);
* every variable that would configure those three (service principal, workload identity, App
  Service / Arc / Cloud Shell managed identity endpoints) is removed, so a test that wants one sets
  it itself, at the emulator.
"""

from __future__ import annotations

import socket
from collections.abc import MutableMapping

CREDENTIAL_VARIABLES = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_REGIONAL_AUTHORITY_NAME",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
)

_held: list[socket.socket] = []


def refusing_port() -> int:
    """A 127.0.0.1 port that refuses connections for as long as this process lives."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound, never listening: a connect is refused
    _held.append(sock)
    port: int = sock.getsockname()[1]
    return port


def isolate(environ: MutableMapping[str, str]) -> None:
    for name in CREDENTIAL_VARIABLES:
        environ.pop(name, None)
    environ["AZURE_TOKEN_CREDENTIALS"] = "prod"
    environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = f"http://127.0.0.1:{refusing_port()}"
