"""Configuration of the MCP server, read once from the environment at start-up.

Same variable names as the original lab's container app (``AZURE_TENANT_ID``,
``AZURE_CLIENT_ID``, ``AZURE_MANAGED_IDENTITY_CLIENT_ID``, ``HOST``, ``PORT``) plus the ones the
local target needs to point the same code at the emulator (``AZURE_AUTHORITY_HOST``,
``GRAPH_ENDPOINT``, ``TLS_CERT_FILE``/``TLS_KEY_FILE``). ``from_env`` is pure: it takes the
mapping, so tests never touch ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_GRAPH = "https://graph.microsoft.com"
# The OBO exchange always asks for Microsoft Graph's own resource id, whatever host serves Graph:
# locally the emulator's identity service issues tokens for this scope and its Graph accepts them.
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GRAPH_USER_READ = "https://graph.microsoft.com/User.Read"
# How long the server keeps an idle HTTP/1.1 connection open (uvicorn's ``timeout_keep_alive``,
# its default made explicit; ``HTTP_KEEP_ALIVE_S`` overrides it: the local target's runner sets
# a shorter one, ``emulator.ports.APP_KEEP_ALIVE_S``): the gateway's pool must never reuse a
# connection the server closed, and the verifier's ``idle.burst`` check idles just longer than
# the server's keep-alive (this default on Azure, the local target's own value locally).
KEEP_ALIVE_S = 5


class ConfigError(ValueError):
    """A required variable is missing or malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    tenant_id: str
    client_id: str
    managed_identity_client_id: str | None
    # The scope a token must carry (``scp``): ``REQUIRED_SCOPE``, set by the lab's engine from the
    # app registration's scope (no default: a renamed scope must reach the server).
    required_scope: str
    host: str = "127.0.0.1"
    port: int = 8000
    authority_host: str = DEFAULT_AUTHORITY
    graph_endpoint: str = DEFAULT_GRAPH
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # Audiences accepted besides the client id (the `aud` of every v2 token): the app's
    # identifier URI, e.g. the MCP URL, comma-separated in ``AZURE_CLIENT_AUDIENCES`` - the
    # gateway's policy accepts exactly these two (``api://<client id>`` only if configured here).
    extra_audiences: tuple[str, ...] = ()
    # Public base URL of this server (for the consent redirect to ``/auth/callback``):
    # ``PUBLIC_BASE_URL``, else the app FQDN Azure Container Apps describes
    # (``$CONTAINER_APP_NAME.$CONTAINER_APP_ENV_DNS_SUFFIX``), else ``$CONTAINER_APP_HOSTNAME``
    # (the emulator's runner sets ``127.0.0.1:<port>``); empty means "derive from the request".
    public_base_url: str = ""
    log_level: str = "INFO"
    keep_alive_s: int = KEEP_ALIVE_S  # idle keep-alive of HTTP/1.1 connections (HTTP_KEEP_ALIVE_S)

    @property
    def issuer(self) -> str:
        return f"{self.authority_host}/{self.tenant_id}/v2.0"

    @property
    def openid_configuration_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def audiences(self) -> tuple[str, ...]:
        return (self.client_id, *self.extra_audiences)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigError(f"environment variable {name} is required")
            return value

        port_text = env.get("PORT", "8000").strip() or "8000"
        try:
            port = int(port_text)
        except ValueError:
            raise ConfigError(f"PORT must be a number, got {port_text!r}") from None
        if not 0 < port < 65536:
            raise ConfigError(f"PORT must be between 1 and 65535, got {port}")

        keep_alive_text = env.get("HTTP_KEEP_ALIVE_S", "").strip() or str(KEEP_ALIVE_S)
        try:
            keep_alive = int(keep_alive_text)
        except ValueError:
            raise ConfigError(
                f"HTTP_KEEP_ALIVE_S must be a whole number of seconds, got {keep_alive_text!r}"
            ) from None
        if not 0 < keep_alive <= 300:
            raise ConfigError(f"HTTP_KEEP_ALIVE_S must be between 1 and 300 seconds, got {keep_alive}")

        cert = env.get("TLS_CERT_FILE", "").strip()
        key = env.get("TLS_KEY_FILE", "").strip()
        if bool(cert) != bool(key):
            raise ConfigError("TLS_CERT_FILE and TLS_KEY_FILE must be set together")

        authority = _https_base(
            env.get("AZURE_AUTHORITY_HOST", "") or DEFAULT_AUTHORITY, "AZURE_AUTHORITY_HOST"
        )
        graph = _https_base(env.get("GRAPH_ENDPOINT", "") or DEFAULT_GRAPH, "GRAPH_ENDPOINT")

        public = env.get("PUBLIC_BASE_URL", "").strip().rstrip("/")
        app_name = env.get("CONTAINER_APP_NAME", "").strip()
        dns_suffix = env.get("CONTAINER_APP_ENV_DNS_SUFFIX", "").strip()
        if not public and app_name and dns_suffix:
            public = f"https://{app_name}.{dns_suffix}"  # the app's FQDN in Azure Container Apps
        if not public and env.get("CONTAINER_APP_HOSTNAME", "").strip():
            public = "https://" + env["CONTAINER_APP_HOSTNAME"].strip().rstrip("/")
        if public:
            public = _https_base(public, "PUBLIC_BASE_URL")

        extra = tuple(a.strip() for a in env.get("AZURE_CLIENT_AUDIENCES", "").split(",") if a.strip())
        return cls(
            tenant_id=required("AZURE_TENANT_ID"),
            client_id=required("AZURE_CLIENT_ID"),
            managed_identity_client_id=env.get("AZURE_MANAGED_IDENTITY_CLIENT_ID", "").strip() or None,
            host=env.get("HOST", "").strip() or "127.0.0.1",
            port=port,
            authority_host=authority,
            graph_endpoint=graph,
            tls_cert_file=Path(cert) if cert else None,
            tls_key_file=Path(key) if key else None,
            extra_audiences=extra,
            public_base_url=public,
            required_scope=required("REQUIRED_SCOPE"),
            log_level=(env.get("LOG_LEVEL", "").strip() or "INFO").upper(),
            keep_alive_s=keep_alive,
        )


def _https_base(value: str, name: str) -> str:
    value = value.strip().rstrip("/")
    if not value.startswith("https://"):
        raise ConfigError(f"{name} must be an https:// URL, got {value!r}")
    return value
