"""Policy elements of identity: ``validate-jwt``, ``validate-azure-ad-token`` (compiled here,
checked per request by ``gateway.tokens``) and ``authentication-managed-identity``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from emulator.gateway.elements.core import Compiler, Runtime, Step, body_flags, element, tag
from emulator.gateway.errors import PolicyFailure
from emulator.gateway.tokens import ClaimRule, TokenRejected, TokenRules, validate
from emulator.gateway.values import Val


def _claim_rules(c: Compiler, el: etree._Element) -> list[ClaimRule]:
    rules = []
    c.attrs(el, ())
    for claim in c.kids(el, ("claim",)):
        c.attrs(claim, ("name", "match", "separator"), ("name",))
        match = c.choice(claim, "match", ("all", "any"), "all")
        values = [c.text(v) for v in c.kids(claim, ("value",))]
        rules.append(ClaimRule(claim.get("name", ""), match, claim.get("separator"), values))
    return rules


def _vals(c: Compiler, el: etree._Element, child: str) -> list[Val]:
    c.attrs(el, ())
    return [c.text(k) for k in c.kids(el, (child,))]


@dataclass(eq=False)
class TokenStep(Step):
    """validate-jwt and validate-azure-ad-token: ``rules`` are checked by ``tokens.validate``."""

    rules: TokenRules

    async def run(self, rt: Runtime) -> None:
        rules = self.rules
        try:
            _claims, jwt = await validate(rules, rt)
        except TokenRejected as exc:
            message = rules.message or exc.message
            rt.error_response(rules.code, message)
            raise PolicyFailure(rules.kind, exc.reason, message) from exc
        if rules.output_var:
            rt.ctx.Variables.set(rules.output_var, jwt)


def _token_common(c: Compiler, el: etree._Element, extra: Sequence[str]) -> dict[str, Any]:
    common = (
        "header-name",
        "query-parameter-name",
        "token-value",
        "failed-validation-httpcode",
        "failed-validation-error-message",
        "output-token-variable-name",
    )
    c.attrs(el, (*common, *extra))
    sources = [n for n in ("header-name", "query-parameter-name", "token-value") if el.get(n) is not None]
    if len(sources) > 1:
        raise c.fail(
            el, "Only one of 'header-name', 'query-parameter-name' or 'token-value' may be specified."
        )
    return {
        "header_name": el.get("header-name") if sources else "Authorization",
        "query_name": el.get("query-parameter-name"),
        "token_value": c.val(el, "token-value"),
        "code": c.status(el, "failed-validation-httpcode", 401),
        "message": el.get("failed-validation-error-message"),
        "output_var": el.get("output-token-variable-name"),
    }


@element("validate-jwt", frozenset({"inbound"}))
def _validate_jwt(c: Compiler, el: etree._Element) -> Step:
    args = _token_common(
        c, el, ("require-expiration-time", "require-scheme", "require-signed-tokens", "clock-skew")
    )
    audiences: list[Val] = []
    issuers: list[Val] = []
    claims: list[ClaimRule] = []
    urls: list[Val] = []
    keys: list[dict[str, str]] = []
    for kid in c.kids(
        el,
        (
            "openid-config",
            "issuer-signing-keys",
            "audiences",
            "issuers",
            "required-claims",
            "decryption-keys",
        ),
    ):
        name = tag(kid)
        if name == "openid-config":
            c.attrs(kid, ("url",), ("url",))
            c.kids(kid, ())
            urls.append(c.req(kid, "url"))
        elif name == "issuer-signing-keys":
            c.attrs(kid, ())
            for key in c.kids(kid, ("key",)):
                c.attrs(key, ("id", "n", "e", "certificate-id"))
                if key.get("certificate-id") is not None:
                    raise c.fail(
                        key,
                        "Keys by 'certificate-id' are not supported by the local gateway; give the key inline.",
                    )
                if key.get("n") and key.get("e"):
                    keys.append(
                        {
                            "kty": "RSA",
                            "n": key.get("n", ""),
                            "e": key.get("e", ""),
                            "kid": key.get("id") or "",
                        }
                    )
                else:
                    text = (key.text or "").strip()
                    if not text:
                        raise c.fail(key, "The signing key is empty.")
                    keys.append({"kty": "oct", "k": text, "kid": key.get("id") or ""})
        elif name == "audiences":
            audiences = _vals(c, kid, "audience")
        elif name == "issuers":
            issuers = _vals(c, kid, "issuer")
        elif name == "required-claims":
            claims = _claim_rules(c, kid)
        else:
            raise c.fail(kid, "Encrypted tokens (decryption-keys) are not supported by the local gateway.")
    if not urls and not keys:
        raise c.fail(
            el,
            "'openid-config' or 'issuer-signing-keys' is required (the local gateway validates signatures).",
        )
    if not c.flag(el, "require-signed-tokens", True):
        raise c.fail(el, 'require-signed-tokens="false" is not supported by the local gateway.')
    rules = TokenRules(
        "validate-jwt",
        audiences=audiences,
        issuers=issuers,
        claims=claims,
        openid_urls=urls,
        keys=keys,
        require_exp=c.flag(el, "require-expiration-time", True),
        require_scheme=el.get("require-scheme"),
        clock_skew=c.number(el, "clock-skew", 0) or 0,
        **args,
    )
    step = TokenStep(rules)
    body_flags(step, [rules.token_value, *audiences, *issuers, *urls, *(v for r in claims for v in r.values)])
    return step


@element("validate-azure-ad-token", frozenset({"inbound"}))
def _validate_aad(c: Compiler, el: etree._Element) -> Step:
    args = _token_common(c, el, ("tenant-id",))
    if el.get("tenant-id") is None:
        raise c.fail(el, "'tenant-id' attribute is required.")
    audiences: list[Val] = []
    claims: list[ClaimRule] = []
    clients: list[Val] = []
    backends: list[Val] = []
    for kid in c.kids(
        el,
        (
            "client-application-ids",
            "backend-application-ids",
            "audiences",
            "required-claims",
            "decryption-keys",
        ),
    ):
        name = tag(kid)
        if name == "client-application-ids":
            clients = _vals(c, kid, "application-id")
        elif name == "backend-application-ids":
            backends = _vals(c, kid, "application-id")
        elif name == "audiences":
            audiences = _vals(c, kid, "audience")
        elif name == "required-claims":
            claims = _claim_rules(c, kid)
        else:
            raise c.fail(kid, "Encrypted tokens (decryption-keys) are not supported by the local gateway.")
    rules = TokenRules(
        "validate-azure-ad-token",
        audiences=audiences,
        issuers=[],
        claims=claims,
        tenant=c.req(el, "tenant-id"),
        client_apps=clients,
        backend_apps=backends,
        **args,
    )
    step = TokenStep(rules)
    body_flags(
        step,
        [
            rules.token_value,
            rules.tenant,
            *audiences,
            *clients,
            *backends,
            *(v for r in claims for v in r.values),
        ],
    )
    return step


@dataclass(eq=False)
class ManagedIdentityStep(Step):
    resource: Val
    client_id: Val | None
    output_var: str | None
    ignore_error: bool

    async def run(self, rt: Runtime) -> None:
        token = self.token(rt)
        if token is None:
            return
        if self.output_var:
            rt.ctx.Variables.set(self.output_var, token)
        else:
            rt.ctx.Request.Headers.set("Authorization", [f"Bearer {token}"])

    def token(self, rt: Runtime) -> str | None:
        try:
            return rt.services.managed_identity_token(
                self.resource.text(rt.ctx), self.client_id.text(rt.ctx) if self.client_id else None
            )
        except PolicyFailure:
            if self.ignore_error:
                return None
            raise


@element("authentication-managed-identity", frozenset({"inbound"}))
def _managed_identity(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("resource", "client-id", "output-token-variable-name", "ignore-error"), ("resource",))
    c.kids(el, ())
    step = ManagedIdentityStep(
        c.req(el, "resource"),
        c.val(el, "client-id"),
        el.get("output-token-variable-name"),
        c.flag(el, "ignore-error", False),
    )
    body_flags(step, [step.resource, step.client_id])
    return step


@dataclass(eq=False)
class BasicAuthStep(Step):
    """``authentication-basic`` (Learn: "Sets the HTTP Authorization header to the value
    corresponding to the credentials provided in the policy"): ``Basic base64(username:password)``."""

    username: Val
    password: Val

    async def run(self, rt: Runtime) -> None:
        import base64

        raw = f"{self.username.text(rt.ctx)}:{self.password.text(rt.ctx)}".encode()
        rt.ctx.Request.Headers.set("Authorization", ["Basic " + base64.b64encode(raw).decode("ascii")])


@element("authentication-basic", frozenset({"inbound"}))
def _authentication_basic(c: Compiler, el: etree._Element) -> Step:
    c.attrs(el, ("username", "password"), ("username", "password"))
    c.kids(el, ())
    step = BasicAuthStep(c.req(el, "username"), c.req(el, "password"))
    body_flags(step, [step.username, step.password])
    return step
