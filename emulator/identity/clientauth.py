"""Client authentication at the token endpoint: none, client secret, or client assertion.

Where it sits: the token endpoint calls ``authenticate`` once per request. Supported:

* ``client_secret`` in the body or HTTP Basic (secrets from the app's ``passwordCredentials``
  as the Graph layer stores them: ``secretText``, or a SHA-256 hex digest);
* ``client_assertion`` (``urn:ietf:params:oauth:client-assertion-type:jwt-bearer``) that is a
  token this identity service issued — in practice a managed-identity token for
  ``api://AzureADTokenExchange`` — accepted through a federated identity credential of the app
  whose ``issuer``, ``subject`` and one of ``audiences`` equal the assertion's ``iss``, ``sub``
  and ``aud`` (AADSTS700211 / 700213 / 700212 name the first field that does not match).

A public client (no credential) is allowed where the grant permits it; the endpoint decides.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from emulator.context import EmulatorContext
from emulator.identity import claims as claim_shapes
from emulator.identity import keys
from emulator.identity.directory import App, Directory
from emulator.identity.errors import EntraError, invalid_client, invalid_request, unauthorized_client
from emulator.tokens import TokenValidationError, unverified_claims

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

Method = Literal["none", "secret", "assertion"]


@dataclass(frozen=True, slots=True)
class ClientAuth:
    app: App
    method: Method

    @property
    def azpacr(self) -> str:
        return {
            "none": claim_shapes.AZPACR_PUBLIC,
            "secret": claim_shapes.AZPACR_SECRET,
            "assertion": claim_shapes.AZPACR_ASSERTION,
        }[self.method]

    @property
    def confidential(self) -> bool:
        return self.method != "none"


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(header[6:].strip()).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_request(900144, "The Authorization header is not valid Basic credentials.") from exc
    client_id, sep, secret = raw.partition(":")
    if not sep:
        raise invalid_request(900144, "The Authorization header is not valid Basic credentials.")
    return unquote(client_id), unquote(secret)


def authenticate(
    ctx: EmulatorContext,
    directory: Directory,
    form: Mapping[str, str],
    authorization: str | None,
    tenant: str,
    now: int,
) -> ClientAuth:
    basic = _basic(authorization)
    client_id = form.get("client_id") or (basic[0] if basic else None)
    assertion = form.get("client_assertion")
    if not client_id and assertion:
        try:
            client_id = str(unverified_claims(assertion).get("sub") or "")
        except TokenValidationError:
            client_id = ""
    if not client_id:
        raise invalid_request(900144, "The request body must contain the following parameter: 'client_id'.")
    if basic and form.get("client_id") and basic[0] != form.get("client_id"):
        raise invalid_client(7000218, "client_id in the body and the Authorization header differ.")
    app = directory.app_by_client_id(client_id)
    if app is None:
        raise unauthorized_client(client_id, tenant)
    secret = form.get("client_secret") or (basic[1] if basic else None)
    if secret is not None and assertion is not None:
        raise invalid_request(
            90014, "A client must authenticate with either client_secret or client_assertion, not both."
        )
    if secret is not None:
        _check_secret(app, secret)
        return ClientAuth(app, "secret")
    if assertion is not None:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise invalid_request(
                900144, "The request body must contain 'client_assertion_type' = " + ASSERTION_TYPE + "."
            )
        check_federated_assertion(ctx, directory, app, assertion, now)
        return ClientAuth(app, "assertion")
    return ClientAuth(app, "none")


def _check_secret(app: App, secret: str) -> None:
    candidate = hashlib.sha256(secret.encode()).hexdigest()
    ok = any(hmac.compare_digest(candidate, d) for d in app.secret_digests) or any(
        hmac.compare_digest(secret.encode(), p.encode()) for p in app.secret_plain
    )
    if not ok:
        raise invalid_client(
            7000215,
            f"Invalid client secret provided. Ensure the secret being sent in the request is the client "
            f"secret value, not the client secret ID, for a secret added to app '{app.app_id}'.",
        )


def check_federated_assertion(
    ctx: EmulatorContext, directory: Directory, app: App, assertion: str, now: int
) -> dict[str, object]:
    """Validate a client assertion issued by this service against the app's federated credentials."""
    try:
        unverified = unverified_claims(assertion)
    except TokenValidationError as exc:
        raise invalid_client(50027, f"JWT token is invalid or malformed: {exc}") from exc
    iss = str(unverified.get("iss") or "")
    try:
        verified = keys.verify_token(ctx, assertion, issuers=[iss] if iss else [], now=now, leeway_s=0)
    except TokenValidationError as exc:
        if exc.reason in ("expired", "not_yet_valid"):
            raise invalid_client(700024, "Client assertion is not within its valid time range.") from exc
        raise invalid_client(
            700027,
            f"Client assertion failed signature validation ({exc}). Only assertions issued by "
            f"this identity service (managed-identity tokens) are accepted.",
        ) from exc
    sub = str(verified.get("sub") or "")
    aud = verified.get("aud")
    audiences = [str(a) for a in aud] if isinstance(aud, list) else [str(aud)]
    fics = directory.federated_credentials(app)
    detail = (
        f"Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{','.join(audiences)}'."
    )
    by_issuer = [f for f in fics if f.issuer == iss]
    if not by_issuer:
        raise invalid_client(
            700211,
            f"No matching federated identity record found for presented assertion issuer '{iss}'. "
            f"Please check your federated identity credential Subject, Audience and Issuer against the "
            f"presented assertion. {detail}",
        )
    by_subject = [f for f in by_issuer if f.subject == sub]
    if not by_subject:
        raise invalid_client(
            700213,
            f"No matching federated identity record found for presented assertion subject '{sub}'. {detail}",
        )
    if not any(a in f.audiences for f in by_subject for a in audiences):
        raise invalid_client(
            700212,
            f"No matching federated identity record found for presented assertion audience "
            f"'{','.join(audiences)}'. {detail}",
        )
    return verified


def require_confidential(auth: ClientAuth, grant: str) -> None:
    if not auth.confidential:
        raise EntraError(
            "invalid_client",
            7000218,
            f"The request body must contain the following parameter: 'client_assertion' or "
            f"'client_secret' (grant {grant} needs a confidential client).",
            status=401,
        )
