"""The environment a local container-app process gets (pure).

Where it sits: ``supervisor`` calls ``process_env`` just before starting a process. Layers,
later ones winning:

1. a minimal base from the emulator's own environment (``PATH``, ``HOME``, locale, ``TMPDIR``,
   ``VIRTUAL_ENV``) plus ``PYTHONPATH`` pointing at the checkout that holds ``mcp_server``;
2. the container's ``env`` from the spec (secretRefs already resolved);
3. what the local target owns — never taken from the spec: ``HOST=127.0.0.1``, ``PORT`` (the
   ingress port), ``TLS_CERT_FILE``/``TLS_KEY_FILE`` (the emulator's CA-signed certificate),
   ``AZURE_AUTHORITY_HOST`` (the identity service), ``GRAPH_ENDPOINT`` (the emulator),
   ``SSL_CERT_FILE``/``REQUESTS_CA_BUNDLE`` (system CAs + the lab CA), the managed-identity
   endpoint ``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER`` (App Service / Container Apps
   protocol, which azure-identity's ``ManagedIdentityCredential`` speaks), and
   ``CONTAINER_APP_NAME``/``CONTAINER_APP_HOSTNAME`` as Azure Container Apps sets them, and
   ``HTTP_KEEP_ALIVE_S`` (``ports.APP_KEEP_ALIVE_S``: the app's idle keep-alive, which the
   verifier's idle check waits out).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from emulator.ports import APP_KEEP_ALIVE_S
from emulator.runner.spec import AppSpec

_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "VIRTUAL_ENV", "SYSTEMROOT")
MSI_PATH = "/msi/token"  # the identity service's managed-identity endpoint: <base>/msi/token


@dataclass(frozen=True, slots=True)
class LocalTarget:
    """What the emulator contributes to every app's environment."""

    base_url: str
    identity_base: str
    cert_file: Path
    key_file: Path
    ca_bundle: Path
    source_root: Path  # the folder that contains the ``mcp_server`` package

    @property
    def identity_endpoint(self) -> str:
        return f"{self.base_url}{MSI_PATH}"


# What every app's interpreter is started with whatever its spec says (unless the spec's own
# env overrides one of them: see ``same_interpreter``).
_INTERPRETER = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def interpreter_env(target: LocalTarget, parent: Mapping[str, str]) -> dict[str, str]:
    """The environment of layer 1 (and the two fixed ``PYTHON*`` switches): what a warm
    interpreter (``warm_start``) is started with before any app's spec is known."""
    env = {k: parent[k] for k in _INHERITED if parent.get(k)}
    python_path = [str(target.source_root)]
    if parent.get("PYTHONPATH"):
        python_path.append(parent["PYTHONPATH"])
    env["PYTHONPATH"] = ":".join(python_path)
    env.update(_INTERPRETER)
    return env


def _read_at_start(name: str) -> bool:
    # CPython reads PYTHON* (PYTHONPATH, PYTHONHASHSEED, PYTHONUTF8, PYTHONWARNINGS...) once, at
    # start; the locale variables set the stdio encoding; HOME the user site folder.
    return name.startswith("PYTHON") or name in ("LANG", "LC_ALL", "LC_CTYPE", "HOME")


def same_interpreter(app_env: Mapping[str, str], started_with: Mapping[str, str]) -> bool:
    """Whether an interpreter started with ``started_with`` is the one ``app_env`` would start:
    every variable read at an interpreter's start has the same value (or is absent) in both."""
    names = {k for k in (*app_env, *started_with) if _read_at_start(k)}
    return all(app_env.get(k) == started_with.get(k) for k in names)


def process_env(
    spec: AppSpec, target: LocalTarget, identity_header: str, parent: Mapping[str, str]
) -> dict[str, str]:
    env = interpreter_env(target, parent)
    env.update(dict(spec.env))
    env.update(
        {
            "HOST": "127.0.0.1",
            "PORT": str(spec.port),
            "TLS_CERT_FILE": str(target.cert_file),
            "TLS_KEY_FILE": str(target.key_file),
            "AZURE_AUTHORITY_HOST": target.identity_base,
            "GRAPH_ENDPOINT": target.base_url,
            "SSL_CERT_FILE": str(target.ca_bundle),
            "REQUESTS_CA_BUNDLE": str(target.ca_bundle),
            "IDENTITY_ENDPOINT": target.identity_endpoint,
            "IDENTITY_HEADER": identity_header,
            "CONTAINER_APP_NAME": spec.name,
            "CONTAINER_APP_HOSTNAME": f"127.0.0.1:{spec.port}",
            "HTTP_KEEP_ALIVE_S": str(APP_KEEP_ALIVE_S),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    # azure-identity picks the managed-identity flavour from the environment; these would
    # divert it away from IDENTITY_ENDPOINT/IDENTITY_HEADER.
    for var in (
        "IDENTITY_SERVER_THUMBPRINT",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
        "AZURE_FEDERATED_TOKEN_FILE",
    ):
        env.pop(var, None)
    return env
