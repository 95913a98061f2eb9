"""Element-level tests: each policy element through the gateway app (in process, ASGI), with
an echo backend (also an ASGI app) that reports what it received."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.context import PolicyRejectedError
from emulator.identity.keys import verify_token
from tests.emulator.gateway.support import CLIENT_ID, TENANT, Lab, make_context, token

pytestmark = pytest.mark.anyio

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
BACKEND = "http://backend.test"


def _jwk() -> dict[str, Any]:
    numbers = RSA_KEY.public_key().public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    return {"kty": "RSA", "kid": "k1", "use": "sig", "n": b64(numbers.n), "e": b64(numbers.e)}


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": {k: ", ".join(request.headers.getlist(k)) for k in request.headers},
            "body": body.decode(errors="replace"),
        },
        headers={"X-Backend": "yes"},
    )


async def openid(request: Request) -> Response:
    return JSONResponse({"issuer": "https://idp.test/", "jwks_uri": f"{BACKEND}/jwks"})


async def jwks(request: Request) -> Response:
    return JSONResponse({"keys": [_jwk()]})


async def status(request: Request) -> Response:
    return Response(b"teapot", status_code=int(request.path_params["code"]))


backend_app = Starlette(
    routes=[
        Route("/.well-known/openid-configuration", openid),
        Route("/jwks", jwks),
        Route("/status/{code}", status),
        Route("/{path:path}", echo, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    lab = Lab(make_context(tmp_path))
    lab.api("api", "api", BACKEND + "/base")
    lab.operation("api", "get-item", "GET", "/items/{id}")
    lab.operation("api", "post-any", "POST", "/*")
    lab.operation("api", "put-any", "PUT", "/*")
    lab.operation("api", "options-any", "OPTIONS", "/*")
    return lab


@pytest.fixture
async def client(lab: Lab) -> AsyncIterator[httpx.AsyncClient]:
    app, _, _ = lab.app(backend_app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.test") as c:
        yield c


def P(
    inbound: str = "<base />",
    backend: str = "<base />",
    outbound: str = "<base />",
    on_error: str = "<base />",
) -> str:
    return f"<policies><inbound>{inbound}</inbound><backend>{backend}</backend><outbound>{outbound}</outbound><on-error>{on_error}</on-error></policies>"


# ---- routing and forwarding ---------------------------------------------------------------


async def test_forward_default_pipeline(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/items/7?x=1", headers={"X-Custom": "v"})
    assert resp.status_code == 200
    got = resp.json()
    assert got["path"] == "/base/items/7"
    assert got["query"] == "x=1"
    assert got["headers"]["x-custom"] == "v"
    assert "x-forwarded-for" in got["headers"]
    assert resp.headers["x-backend"] == "yes"


async def test_mcp_api_forwards_to_its_backend_id_not_service_url(
    lab: Lab, client: httpx.AsyncClient
) -> None:
    """APIM's MCP API names a backend (``backendId``) and has no ``serviceUrl``: the gateway
    forwards to the backend's ``url``, even when a ``serviceUrl`` is stored as well."""
    lab.backend("mcp-backend", BACKEND + "/mcp")
    lab.api("tools", "tools", BACKEND + "/not-this", api_type="mcp", backend_id="mcp-backend")
    got = (await client.post("/tools", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})).json()
    assert got["path"] == "/mcp"
    assert json.loads(got["body"])["method"] == "ping"
    # a backend that does not exist: no backend configured, as APIM answers it (500, no forwarding)
    lab.api("orphan", "orphan", api_type="mcp", backend_id="gone")
    resp = await client.post("/orphan", json={})
    assert resp.status_code == 500
    assert "x-backend" not in resp.headers


async def test_unknown_routes_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/nope")).status_code == 404
    assert (await client.delete("/api/items/7")).status_code == 404
    assert (await client.get("/api/other")).json()["message"] == "Resource not found"


async def test_subscription_key_required(lab: Lab) -> None:
    lab.api("locked", "locked", BACKEND, subscription_required=True)
    lab.operation("locked", "get", "GET", "/")
    lab.subscription("s1", "secret-key")
    app, _, _ = lab.app(backend_app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.test") as c:
        assert (await c.get("/locked")).status_code == 401
        assert (await c.get("/locked", headers={"Ocp-Apim-Subscription-Key": "wrong"})).status_code == 401
        assert (
            await c.get("/locked", headers={"Ocp-Apim-Subscription-Key": "secret-key"})
        ).status_code == 200


async def test_base_composes_global_api_operation(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        P(
            inbound='<set-header name="X-Order" exists-action="append"><value>global</value></set-header>',
            backend="<forward-request />",
        )
    )
    lab.policy(
        P(
            inbound='<base /><set-header name="X-Order" exists-action="append"><value>api</value></set-header>'
        ),
        api="api",
    )
    lab.policy(
        P(
            inbound='<set-header name="X-Order" exists-action="append"><value>op-first</value></set-header><base />'
        ),
        api="api",
        operation="get-item",
    )
    resp = await client.get("/api/items/1")
    assert resp.json()["headers"]["x-order"] == "op-first, global, api"


async def test_section_without_base_skips_outer_scopes(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        P(inbound='<return-response><set-status code="403" reason="Forbidden" /></return-response>'),
        api="api",
    )
    lab.policy(
        P(inbound='<set-header name="X-Op" exists-action="override"><value>1</value></set-header>'),
        api="api",
        operation="get-item",
    )
    resp = await client.get("/api/items/1")
    assert resp.status_code == 200
    assert resp.json()["headers"]["x-op"] == "1"
    assert (await client.post("/api/x")).status_code == 403


async def test_changes_are_picked_up(lab: Lab) -> None:
    app, config, _ = lab.app(backend_app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.test") as c:
        assert (await c.get("/api/items/1")).status_code == 200
        lab.policy(
            P(inbound='<return-response><set-status code="202" reason="Status" /></return-response>'),
            api="api",
        )
        config.invalidate()
        assert (await c.get("/api/items/1")).status_code == 202


# ---- control flow and response shaping ----------------------------------------------------


async def test_choose_when_otherwise(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        P(
            inbound="""<choose>
                <when condition='@(context.Request.Headers.GetValueOrDefault("X-Mode", "") == "a")'>
                    <return-response><set-status code="201" reason="A" /></return-response>
                </when>
                <when condition='@(context.Request.Url.Query.ContainsKey("b"))'>
                    <return-response><set-status code="202" reason="B" /></return-response>
                </when>
                <otherwise><return-response><set-status code="203" reason="Other" /></return-response></otherwise>
            </choose>"""
        ),
        api="api",
    )
    assert (await client.get("/api/items/1", headers={"X-Mode": "a"})).status_code == 201
    assert (await client.get("/api/items/1?b=1")).status_code == 202
    assert (await client.get("/api/items/1")).status_code == 203


async def test_return_response_with_headers_and_expression_body(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        P(
            inbound="""<return-response>
                <set-status code="200" reason="OK" />
                <set-header name="Content-Type" exists-action="override"><value>application/json</value></set-header>
                <set-body>@(new JObject(new JProperty("id", context.Request.MatchedParameters["id"])).ToString())</set-body>
            </return-response>"""
        ),
        api="api",
        operation="get-item",
    )
    resp = await client.get("/api/items/99")
    assert resp.json() == {"id": "99"}
    assert resp.headers["content-type"] == "application/json"


async def test_set_header_actions_and_set_status_outbound(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        P(
            inbound="""<set-header name="X-Skip" exists-action="skip"><value>new</value></set-header>
                <set-header name="X-Over" exists-action="override"><value>new</value></set-header>
                <set-header name="X-Gone" exists-action="delete" />""",
            outbound="""<set-header name="X-Backend" exists-action="delete" />
                <set-header name="X-Out" exists-action="override"><value>@(context.Response.StatusCode.ToString())</value></set-header>
                <set-status code="299" reason="Custom" />""",
        ),
        api="api",
    )
    resp = await client.get("/api/items/1", headers={"X-Skip": "old", "X-Over": "old", "X-Gone": "x"})
    headers = resp.json()["headers"]
    assert headers["x-skip"] == "old"
    assert headers["x-over"] == "new"
    assert "x-gone" not in headers
    assert resp.status_code == 299
    assert "x-backend" not in resp.headers
    assert resp.headers["x-out"] == "200"


async def test_set_body_inbound_and_outbound(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        P(
            inbound="""<set-body>@{ var body = context.Request.Body.As<JObject>(); body["added"] = true; return body.ToString(Newtonsoft.Json.Formatting.None); }</set-body>""",
            outbound="""<set-body>@(context.Response.Body.As<JObject>()["body"].ToString())</set-body>""",
        ),
        api="api",
    )
    resp = await client.post("/api/things", json={"a": 1})
    assert json.loads(resp.text) == {"a": 1, "added": True}


async def test_set_variable_and_query_and_method(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        P(
            inbound="""<set-variable name="n" value="@(context.Request.Url.Query.GetValueOrDefault(&quot;n&quot;, &quot;0&quot;))" />
                <set-query-parameter name="doubled" exists-action="override"><value>@((int.Parse((string)context.Variables["n"]) * 2).ToString())</value></set-query-parameter>
                <set-query-parameter name="drop" exists-action="delete" />
                <set-method>PUT</set-method>"""
        ),
        api="api",
    )
    got = (await client.post("/api/x?n=21&drop=1")).json()
    assert got["method"] == "PUT"
    assert got["query"] == "n=21&doubled=42"


async def test_set_backend_service_and_rewrite_uri(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.backend("other", BACKEND + "/other")
    lab.policy(
        P(
            inbound='<set-backend-service backend-id="other" /><rewrite-uri template="/v2/item/{id}?src=gw" />'
        ),
        api="api",
        operation="get-item",
    )
    got = (await client.get("/api/items/5?keep=1")).json()
    assert got["path"] == "/other/v2/item/5"
    assert got["query"] == "src=gw&keep=1"
    lab.policy(
        P(inbound='<set-backend-service base-url="http://backend.test/abs" />'),
        api="api",
        operation="get-item",
    )
    assert (await client.get("/api/items/5")).status_code == 200


async def test_named_values_including_secrets(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.named_value("Plain", "plain-value")
    lab.named_value("Secret", "s3cr3t", secret=True)
    lab.policy(
        P(
            inbound='<set-header name="X-Nv" exists-action="override"><value>{{Plain}}/{{Secret}}</value></set-header><set-variable name="v" value="@(&quot;{{Secret}}&quot;.Length)" /><set-header name="X-Len" exists-action="override"><value>@(context.Variables["v"].ToString())</value></set-header>'
        ),
        api="api",
    )
    headers = (await client.get("/api/items/1")).json()["headers"]
    assert headers["x-nv"] == "plain-value/s3cr3t"
    assert headers["x-len"] == "6"


async def test_include_fragment(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.fragment(
        "hdr",
        '<fragment><set-header name="X-Frag" exists-action="override"><value>yes</value></set-header></fragment>',
    )
    lab.policy(P(inbound='<include-fragment fragment-id="hdr" />'), api="api")
    assert (await client.get("/api/items/1")).json()["headers"]["x-frag"] == "yes"


async def test_mock_response_and_trace(lab: Lab) -> None:
    lab.policy(
        P(
            inbound='<trace source="t" severity="information"><message>@("hello " + context.Request.Method)</message><metadata name="k" value="v" /></trace><mock-response status-code="204" content-type="application/json" />'
        ),
        api="api",
    )
    app, _, services = lab.app(backend_app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.test") as c:
        assert (await c.get("/api/items/1")).status_code == 204
    assert services.traces[-1]["message"] == "hello GET"
    assert services.traces[-1]["metadata"] == {"k": "v"}


# ---- errors --------------------------------------------------------------------------------


async def test_on_error_sees_last_error(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        P(
            inbound='<set-variable name="x" value="@(((string)null).Length)" />',
            on_error="""<return-response><set-status code="502" reason="Bad" />
                <set-body>@(context.LastError.Source + "|" + context.LastError.Reason + "|" + context.LastError.Section)</set-body></return-response>""",
        ),
        api="api",
    )
    resp = await client.get("/api/items/1")
    assert resp.status_code == 502
    assert resp.text == "set-variable|ExpressionValueEvaluationFailure|inbound"


async def test_unhandled_error_is_500_in_apim_shape(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(P(inbound='<set-variable name="x" value="@(1 / int.Parse(&quot;0&quot;))" />'), api="api")
    resp = await client.get("/api/items/1")
    assert resp.status_code == 500
    assert resp.json() == {"statusCode": 500, "message": "Internal server error"}


async def test_backend_unreachable_and_fail_on_error_status(lab: Lab) -> None:
    lab.api("down", "down", "http://127.0.0.1:9")
    lab.operation("down", "get", "GET", "/")
    lab.policy(
        P(
            on_error='<set-header name="X-Reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header>'
        ),
        api="down",
    )
    lab.policy(
        P(
            backend='<forward-request fail-on-error-status-code="true" />',
            on_error='<return-response><set-status code="599" reason="Status" /><set-body>@(context.LastError.Reason)</set-body></return-response>',
        ),
        api="api",
        operation="get-item",
    )
    lab.policy(
        P(
            inbound='<set-backend-service base-url="http://backend.test" /><rewrite-uri template="/status/418" />'
        ),
        api="api",
    )
    app, _, _ = lab.app(client=httpx.AsyncClient(transport=httpx.ASGITransport(app=backend_app)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.test") as c:
        resp = await c.get("/api/items/1")
        assert resp.status_code == 599
        assert resp.text == "BackendError"
    app2, _, _ = lab.app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app2), base_url="https://gw.test") as c:
        resp = await c.get("/down")
        assert resp.status_code == 500
        assert resp.headers["x-reason"] == "BackendConnectionFailure"


async def test_forward_request_timeout_is_a_504_with_reason_timeout(lab: Lab) -> None:
    """forward-request's timeout: the backend never answers; APIM answers 504 and the error flow
    sees LastError.Reason "Timeout" (the deadline is a cancel scope: issue 20 made it cheaper)."""
    never = anyio.Event()

    async def silent_backend(scope: Any, receive: Any, send: Any) -> None:
        await never.wait()  # cancelled by the gateway's deadline

    lab.api("slow", "slow", "http://backend.test")
    lab.operation("slow", "get", "GET", "/")
    lab.policy(
        P(
            backend='<forward-request timeout-ms="50" />',
            on_error='<set-header name="X-Reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header>',
        ),
        api="slow",
    )
    app, _, _ = lab.app(silent_backend)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.test") as c:
        with anyio.fail_after(30):
            resp = await c.get("/slow")
    assert resp.status_code == 504
    assert resp.headers["x-reason"] == "Timeout"


# ---- access control ------------------------------------------------------------------------


async def test_check_header(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        P(
            inbound='<check-header name="X-Key" failed-check-httpcode="401" failed-check-error-message="No key" ignore-case="true"><value>Open</value></check-header>'
        ),
        api="api",
    )
    assert (await client.get("/api/items/1", headers={"X-Key": "open"})).status_code == 200
    missing = await client.get("/api/items/1")
    assert missing.status_code == 401
    assert missing.json()["message"] == "No key"
    assert (await client.get("/api/items/1", headers={"X-Key": "closed"})).status_code == 401


AAD = f"""<validate-azure-ad-token tenant-id="{TENANT}" failed-validation-httpcode="401" output-token-variable-name="jwt">
    <client-application-ids><application-id>aebc6443-996d-45c2-90f0-388ff96faa56</application-id></client-application-ids>
    <audiences><audience>{CLIENT_ID}</audience></audiences>
    <required-claims><claim name="scp" match="all" separator=" "><value>user_impersonate</value></claim></required-claims>
</validate-azure-ad-token>
<set-header name="X-Sub" exists-action="override"><value>@(((Jwt)context.Variables["jwt"]).Subject)</value></set-header>"""


async def test_validate_azure_ad_token(lab: Lab, client: httpx.AsyncClient) -> None:
    ctx = lab.ctx
    lab.policy(
        P(
            inbound=AAD,
            on_error='<set-header name="X-Reason" exists-action="override"><value>@(context.LastError.Reason)</value></set-header>',
        ),
        api="api",
    )
    good = await client.get("/api/items/1", headers={"Authorization": f"Bearer {token(ctx)}"})
    assert good.status_code == 200
    assert good.json()["headers"]["x-sub"] == "user-sub"
    assert good.json()["headers"]["authorization"].startswith("Bearer ")
    bad = {
        "TokenNotPresent": None,
        "TokenAudienceNotAllowed": token(ctx, aud="other"),
        "TokenExpired": token(ctx, exp=int(time.time()) - 3600, nbf=None, iat=None),
        "TokenIssuerNotAllowed": token(ctx, iss=ctx.issuer("other-tenant")),
        "TokenClientApplicationNotAllowed": token(ctx, azp="someone"),
        "TokenClaimValueNotAllowed": token(ctx, scp="read"),
        "TokenClaimNotFound": token(ctx, scp=None),
        "TokenSignatureInvalid": token(ctx)[:-4] + "AAAA",
        "TokenSignatureAlgorithmNotAllowed": pyjwt.encode(
            {"aud": CLIENT_ID, "iss": ctx.issuer(TENANT)}, "k" * 32, algorithm="HS256"
        ),
    }
    for reason, tok in bad.items():
        headers = {"Authorization": f"Bearer {tok}"} if tok else {}
        resp = await client.get("/api/items/1", headers=headers)
        assert resp.status_code == 401, reason
        assert resp.headers["x-reason"] == reason
        assert resp.json()["statusCode"] == 401
    verify_token(ctx, token(ctx), audiences=[CLIENT_ID], tenant=TENANT)  # the helper signs real tokens


async def test_validate_jwt_with_openid_config_and_inline_key(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        P(
            inbound=f"""<validate-jwt header-name="Authorization" failed-validation-httpcode="403" failed-validation-error-message="Nope" require-scheme="Bearer">
                <openid-config url="{BACKEND}/.well-known/openid-configuration" />
                <audiences><audience>api://x</audience></audiences>
                <required-claims><claim name="roles" match="any"><value>admin</value><value>writer</value></claim></required-claims>
            </validate-jwt>"""
        ),
        api="api",
        operation="get-item",
    )
    now = int(time.time())
    claims = {"iss": "https://idp.test/", "aud": "api://x", "exp": now + 60, "roles": ["writer"]}
    good = pyjwt.encode(claims, RSA_KEY, algorithm="RS256", headers={"kid": "k1"})
    ok = await client.get("/api/items/1", headers={"Authorization": f"Bearer {good}"})
    assert ok.status_code == 200, ok.text
    for bad in (
        pyjwt.encode({**claims, "roles": ["reader"]}, RSA_KEY, algorithm="RS256", headers={"kid": "k1"}),
        pyjwt.encode({**claims, "iss": "https://other/"}, RSA_KEY, algorithm="RS256", headers={"kid": "k1"}),
        pyjwt.encode({**claims, "exp": now - 60}, RSA_KEY, algorithm="RS256", headers={"kid": "k1"}),
        pyjwt.encode(
            claims,
            rsa.generate_private_key(public_exponent=65537, key_size=2048),
            algorithm="RS256",
            headers={"kid": "k1"},
        ),
        pyjwt.encode(claims, "", algorithm="none"),
    ):
        resp = await client.get("/api/items/1", headers={"Authorization": f"Bearer {bad}"})
        assert resp.status_code == 403
        assert resp.json()["message"] == "Nope"
    assert (await client.get("/api/items/1", headers={"Authorization": f"Basic {good}"})).status_code == 403
    secret = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    lab.policy(
        P(
            inbound=f'<validate-jwt token-value="@(context.Request.Headers.GetValueOrDefault(&quot;X-Token&quot;, &quot;&quot;))" require-expiration-time="false"><issuer-signing-keys><key>{secret}</key></issuer-signing-keys></validate-jwt>'
        ),
        api="api",
        operation="get-item",
    )
    hs = pyjwt.encode({"sub": "x"}, b"0123456789abcdef0123456789abcdef", algorithm="HS256")
    assert (await client.get("/api/items/1", headers={"X-Token": hs})).status_code == 200
    assert (await client.get("/api/items/1", headers={"X-Token": hs + "x"})).status_code == 401


async def test_rate_limit_by_key(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        P(
            inbound='<rate-limit-by-key calls="2" renewal-period="60" counter-key="@(context.Request.Headers.GetValueOrDefault(&quot;X-Who&quot;, &quot;anon&quot;))" remaining-calls-header-name="X-Remaining" />'
        ),
        api="api",
    )
    first = await client.get("/api/items/1", headers={"X-Who": "a"})
    assert first.headers["x-remaining"] == "1"
    assert (await client.get("/api/items/1", headers={"X-Who": "a"})).status_code == 200
    limited = await client.get("/api/items/1", headers={"X-Who": "a"})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert (await client.get("/api/items/1", headers={"X-Who": "b"})).status_code == 200


async def test_cache_store_lookup_remove(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        P(
            inbound="""<choose>
                <when condition='@(context.Request.Method == "PUT")'><cache-store-value key="k" value="@(context.Request.Url.Query.GetValueOrDefault(&quot;v&quot;, &quot;&quot;))" duration="60" /></when>
                <when condition='@(context.Request.Method == "POST")'><cache-remove-value key="k" /></when>
            </choose>
            <cache-lookup-value key="k" default-value="miss" variable-name="cached" />
            <return-response><set-body>@((string)context.Variables["cached"])</set-body></return-response>"""
        ),
        api="api",
    )
    assert (await client.get("/api/items/1")).text == "miss"
    assert (await client.put("/api/x?v=hit")).text == "hit"
    assert (await client.get("/api/items/1")).text == "hit"
    assert (await client.post("/api/x")).text == "miss"


async def test_send_request_and_managed_identity(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.put_service(
        0,
        identity={
            "type": "SystemAssigned",
            "principalId": "11111111-1111-1111-1111-111111111111",
            "tenantId": TENANT,
        },
    )
    app, _, _ = lab.app(backend_app)
    lab.policy(
        P(
            inbound=f"""<authentication-managed-identity resource="api://downstream" output-token-variable-name="mi" />
            <send-request mode="new" response-variable-name="side" timeout="10">
                <set-url>{BACKEND}/side?q=1</set-url>
                <set-method>POST</set-method>
                <set-header name="Authorization" exists-action="override"><value>@("Bearer " + (string)context.Variables["mi"])</value></set-header>
                <set-body>side-body</set-body>
            </send-request>
            <return-response><set-body>@{{ var r = (IResponse)context.Variables["side"]; return r.StatusCode + " " + r.Body.As<JObject>(preserveContent: true)["body"] + " " + r.Body.As<JObject>()["headers"]["authorization"].ToString().Length; }}</set-body></return-response>"""
        ),
        api="api",
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.test") as c:
        text = (await c.get("/api/items/1")).text
    status_text, body, length = text.split(" ")
    assert (status_text, body) == ("200", "side-body")
    assert int(length) > 100


async def test_send_request_refused_without_identity(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        P(
            inbound='<authentication-managed-identity resource="api://x" />',
            on_error='<return-response><set-status code="500" reason="Status" /><set-body>@(context.LastError.Reason)</set-body></return-response>',
        ),
        api="api",
    )
    assert (await client.get("/api/items/1")).text == "ManagedIdentityNotEnabled"


# ---- PUT-time refusals (named, with the line) -------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "fragment"),
    [
        ("<policies><inbound><unknown-policy /></inbound></policies>", "Unknown policy 'unknown-policy'"),
        (
            '<policies><inbound><set-header name="a" colour="red" /></inbound></policies>',
            "attribute 'colour'",
        ),
        ("<policies><inbound><set-header /></inbound></policies>", "'name' attribute is required"),
        (
            "<policies><inbound><return-response><set-status code='200' /></return-response></inbound></policies>",
            None,  # APIM runs set-status without 'reason' (test_liquid.py)
        ),
        (
            "<policies><inbound><mock-response status-code='999' /></inbound></policies>",
            "not a valid HTTP status code",
        ),
        (
            '<policies><inbound><set-body template="liquid">{{ x | upcase }}</set-body></inbound></policies>',
            "Liquid",
        ),
        (
            '<policies><inbound><set-body template="mustache">Hello</set-body></inbound></policies>',
            "'mustache'",
        ),
        ("<policies><inbound><forward-request /></inbound></policies>", "not allowed in this section"),
        (
            "<policies><inbound><choose><when condition='@(true)'><base /></when></choose></inbound></policies>",
            "direct child",
        ),
        ("<policies><inbound /><inbound /></policies>", "more than once"),
        ("<policies><outbund /></policies>", "Unknown section"),
        ("<policy />", "Root element must be 'policies'"),
        ("<policies><inbound>", "on line 1, column 20"),
        (
            '<policies><inbound>\n\n<set-variable name="x" value="@(context.Request.Nope)" /></inbound></policies>',
            "on line 3",
        ),
        (
            '<policies><inbound><set-variable name="x" value="@(System.IO.File.ReadAllText(&quot;/etc/passwd&quot;))" /></inbound></policies>',
            "System.IO",
        ),
        (
            '<policies><inbound><set-variable name="x" value="@{ lock (context) { } return 1; }" /></inbound></policies>',
            "'lock' statement",
        ),
        (
            '<policies><inbound><set-variable name="x" value="@(context.Variables.GetValueOrDefault&lt;XDocument&gt;(&quot;a&quot;))" /></inbound></policies>',
            "XDocument",
        ),
        (
            '<policies><inbound><set-variable name="x" value="@{ var a = 1; }" /></inbound></policies>',
            "Not all code paths return a value",
        ),
        (
            "<policies><inbound><validate-jwt><decryption-keys /></validate-jwt></inbound></policies>",
            "decryption-keys",
        ),
        (
            '<policies><inbound><set-variable name="x" value="{{Nope}}" /></inbound></policies>',
            "Cannot find a property 'Nope'",
        ),
        (
            "<policies><inbound><cors><allowed-origins><origin>*</origin></allowed-origins></cors></inbound></policies>",
            None,
        ),
    ],
)
def test_put_time_refusals(lab: Lab, xml: str, fragment: str | None) -> None:
    if fragment is None:
        lab.policy(xml, api="api")  # accepted
        return
    with pytest.raises(PolicyRejectedError) as info:
        lab.policy(xml, api="api")
    assert fragment in info.value.message
    assert info.value.code == "ValidationError"


async def test_raw_expressions_in_xml_are_accepted_as_apim_does(lab: Lab, client: httpx.AsyncClient) -> None:
    lab.policy(
        '<policies><inbound><base /><set-variable name="ua" value="@(context.Request.Headers.GetValueOrDefault("User-Agent","").Contains("iPad") && 1 < 2)" />'
        '<return-response><set-body>@{ var b = context.Request.Body.As<string>(); return context.Variables.GetValueOrDefault<bool>("ua") ? "ipad" : "other"; }</set-body></return-response>'
        "</inbound></policies>",
        api="api",
    )
    assert (await client.get("/api/items/1", headers={"User-Agent": "iPad OS"})).text == "ipad"
    assert (await client.get("/api/items/1", headers={"User-Agent": "curl"})).text == "other"


async def test_policy_broken_after_storing_answers_500_without_details(
    lab: Lab, client: httpx.AsyncClient
) -> None:
    lab.named_value("Key", "s3cr3t-value")
    lab.policy(P(inbound='<set-variable name="k" value="{{Key}}" />'), api="api")
    # the named value now holds a broken expression: the stored policy no longer compiles
    lab.named_value("Key", "@(s3cr3t-value +)")
    resp = await client.get("/api/items/1")
    assert resp.status_code == 500
    assert "set-variable" in resp.json()["message"]
    assert "s3cr3t" not in resp.text


def test_raw_expression_escaping() -> None:
    from emulator.gateway.rawxml import escape_expressions

    assert (
        escape_expressions('<a v="@(x.Get("h") < 1 && y)"/>')
        == '<a v="@(x.Get(&quot;h&quot;) &lt; 1 &amp;&amp; y)"/>'
    )
    assert (
        escape_expressions("<b>@{ return a.As<JObject>(); }</b>")
        == "<b>@{ return a.As&lt;JObject&gt;(); }</b>"
    )
    assert (
        escape_expressions("<b>@(&quot;already&quot; &amp;&amp; x)</b>")
        == "<b>@(&quot;already&quot; &amp;&amp; x)</b>"
    )
    assert escape_expressions("<b>@(\")\" + '}')</b>") == "<b>@(\")\" + '}')</b>"
    assert escape_expressions("<!-- @(a < b) --><c/>") == "<!-- @(a < b) --><c/>"
    unbalanced = '<a v="@(x"/>'
    assert escape_expressions(unbalanced) == unbalanced
