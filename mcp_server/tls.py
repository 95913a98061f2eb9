"""Outbound TLS trust of the MCP server (JWKS discovery, OBO token endpoint, Graph).

The trust store comes from ``SSL_CERT_FILE`` (or ``REQUESTS_CA_BUNDLE``), which the emulator's
runner points at a bundle of the system CAs plus the lab CA; in the Azure container neither is
set and the public CAs (certifi) apply.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

import certifi


def ca_file(env: Mapping[str, str]) -> str:
    """The CA bundle to trust for outbound HTTPS."""
    return (
        env.get("SSL_CERT_FILE", "").strip() or env.get("REQUESTS_CA_BUNDLE", "").strip() or certifi.where()
    )


def outbound_context(env: Mapping[str, str]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file(env))
