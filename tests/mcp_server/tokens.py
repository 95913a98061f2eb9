"""Test helpers: an RSA signing key, its JWKS, and a token factory with knobs for every forgery."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mcp_server.config import Settings

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
AUTHORITY = "https://login.test.example"
ISSUER = f"{AUTHORITY}/{TENANT}/v2.0"
JWKS_URI = f"{AUTHORITY}/{TENANT}/discovery/v2.0/keys"


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "managed_identity_client_id": "mi-client",
        "required_scope": "user_impersonate",
        "authority_host": AUTHORITY,
        "graph_endpoint": "https://graph.test.example",
        "public_base_url": "https://server.test.example",
    }
    base.update(overrides)
    return Settings(**base)


@dataclass
class Signer:
    kid: str = "key-1"
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def private_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwk(self) -> dict[str, Any]:
        entry: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        entry.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return entry

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "tid": TENANT,
            "sub": "user-sub",
            "oid": "user-oid",
            "azp": "vscode-client",
            "scp": "user_impersonate",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, *, kid: str | None = None, **overrides: Any) -> str:
        # Signed at the JWS layer: PyJWT's jwt.encode refuses claims of the wrong type (a list
        # `iss`), and forging those is the point of some tests.
        payload = json.dumps(self.claims(**overrides), separators=(",", ":")).encode()
        return jwt.api_jws.encode(
            payload, self.private_pem, algorithm="RS256", headers={"kid": kid or self.kid}
        )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, Any], kid: str) -> str:
    """``alg: none`` — a token with no signature at all."""
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}."


def hs256_with_public_key(claims: dict[str, Any], public_pem: bytes, kid: str) -> str:
    """Algorithm confusion: HMAC-SHA256 keyed with the RSA public key's PEM."""
    import hashlib
    import hmac

    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


class IssuerTransport:
    """An httpx MockTransport serving OIDC discovery and the JWKS of the given signers."""

    def __init__(self, *signers: Signer) -> None:
        self.signers = list(signers)
        self.requests: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        self.requests.append(url)
        if url == f"{ISSUER}/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": ISSUER, "jwks_uri": JWKS_URI})
        if url == JWKS_URI:
            return httpx.Response(200, json={"keys": [s.jwk() for s in self.signers]})
        return httpx.Response(404)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
