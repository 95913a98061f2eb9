"""Per-service state the policies use at request time: backends, the value cache, rate-limit
counters and token windows, OpenID configurations, managed-identity tokens, the outbound HTTP
client, and the custom-metrics file (``<state>/customMetrics.jsonl``).

One ``Services`` per APIM service gateway; everything but the metrics file in memory (like
APIM's internal cache, it is lost on restart). Reads of ARM resources go through the config snapshot (``config``).
"""

from __future__ import annotations

import json
import math
import os
import random
import ssl
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from emulator.context import EmulatorContext
from emulator.gateway.errors import PolicyFailure
from emulator.gateway.upstream import KEEPALIVE_EXPIRY_S, HttpxUpstream, Upstream

MAX_CACHE = 10_000
OPENID_TTL_S = 600.0
METRICS_FILE = "customMetrics.jsonl"  # custom metrics of every service (llm-emit-token-metric)


@dataclass(frozen=True)
class OpenIdConfig:
    issuer: str | None
    keys: list[dict[str, Any]]
    fetched: float


def outbound_ssl(ca_file: str | None) -> ssl.SSLContext:
    """Trusts the emulator's CA (and the system store)."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def make_client(ca_file: str | None) -> httpx.AsyncClient:
    """Outbound httpx client (send-request, OpenID configurations): HTTP/1.1, no env proxies.

    An idle pooled connection is dropped after ``KEEPALIVE_EXPIRY_S`` (as the upstream pool's):
    below the 5 s keep-alive of the usual servers, so the pool never hands out a connection such
    a server is about to close (with 30 s it relied on having seen the server's FIN, and a
    send-request racing the server's close failed with "Server disconnected without sending a
    response": a registration the store never saw, answered 503)."""
    context = outbound_ssl(ca_file)
    limits = httpx.Limits(
        max_connections=200, max_keepalive_connections=100, keepalive_expiry=KEEPALIVE_EXPIRY_S
    )
    return httpx.AsyncClient(
        verify=context, limits=limits, trust_env=False, timeout=httpx.Timeout(300.0, read=None)
    )


class Services:
    def __init__(
        self,
        emulator: EmulatorContext,
        service_key: str,
        client: httpx.AsyncClient,
        upstream: Upstream | None = None,
    ) -> None:
        self.emulator = emulator
        self.service_key = service_key
        self.client = client  # send-request, OpenID configurations
        self.upstream: Upstream = (
            upstream if upstream is not None else HttpxUpstream(client)
        )  # forward-request
        self.backends: dict[str, str] = {}
        self.service_body: dict[str, Any] = {}
        self._cache: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._counters: dict[str, tuple[float, int]] = {}
        self._tokens: dict[str, tuple[float, int]] = {}
        # quota counters (``elements.quota``): counter -> (window number, calls, bytes); windows
        # are anchored in calendar time (the subscription's start, ``first-period-start``), so
        # they follow the wall clock, which tests replace
        self._quotas: dict[str, tuple[int, int, int]] = {}
        self.clock: Callable[[], float] = time.time
        # the resource id of the service's Application Insights logger ("" without one), set per
        # request from the config snapshot as ``backends`` is
        self.app_insights = ""
        self._openid: dict[str, OpenIdConfig] = {}
        self.traces: list[dict[str, Any]] = []
        # retry's waits and their jitter: tests replace them (no real waiting, fixed draws)
        self.sleep: Callable[[float], Awaitable[None]] = anyio.sleep
        self.random = random.Random()

    # backends -------------------------------------------------------------------------------
    def backend_url(self, backend_id: str) -> str | None:
        return self.backends.get(backend_id.lower())

    # cache ----------------------------------------------------------------------------------
    def cache_store(self, key: str, value: Any, duration_s: int) -> None:
        self._cache[key] = (time.monotonic() + max(duration_s, 0), value)
        self._cache.move_to_end(key)
        while len(self._cache) > MAX_CACHE:
            self._cache.popitem(last=False)

    def cache_lookup(self, key: str) -> tuple[bool, Any]:
        entry = self._cache.get(key)
        if entry is None:
            return False, None
        if entry[0] < time.monotonic():
            self._cache.pop(key, None)
            return False, None
        return True, entry[1]

    def cache_remove(self, key: str) -> None:
        self._cache.pop(key, None)

    # rate limiting (fixed window per counter key) ---------------------------------------------
    def rate_check(self, counter: str, calls: int, period_s: int, count: bool) -> tuple[bool, int, int]:
        now = time.monotonic()
        start, used = self._counters.get(counter, (now, 0))
        if now - start >= period_s:
            start, used = now, 0
        retry_after = max(1, math.ceil(period_s - (now - start)))
        if used >= calls:
            return False, 0, retry_after
        if count:
            used += 1
        if len(self._counters) > MAX_CACHE:
            self._counters.clear()
        self._counters[counter] = (start, used)
        return True, max(calls - used, 0), retry_after

    # quotas (quota, quota-by-key: fixed windows from an anchor; renewal period 0 = one window) ---
    def _quota_window(self, anchor: float, period_s: int) -> tuple[int, int | None]:
        """The number of the current window and the whole seconds until it ends (None: never)."""
        now = self.clock()
        if period_s <= 0:
            return 0, None
        number = math.floor((now - anchor) / period_s)
        end = anchor + (number + 1) * period_s
        return number, max(1, math.ceil(end - now))

    def quota_used(self, counter: str, anchor: float, period_s: int) -> tuple[int, int, int | None]:
        """Calls and bytes counted in the counter's current window, and the seconds left in it."""
        number, left = self._quota_window(anchor, period_s)
        window, calls, size = self._quotas.get(counter, (number, 0, 0))
        return (calls, size, left) if window == number else (0, 0, left)

    def quota_add(self, counter: str, anchor: float, period_s: int, calls: int, size: int) -> None:
        number, _ = self._quota_window(anchor, period_s)
        window, used_calls, used_size = self._quotas.get(counter, (number, 0, 0))
        if window != number:
            used_calls, used_size = 0, 0
        if len(self._quotas) > MAX_CACHE:
            self._quotas.clear()
        self._quotas[counter] = (number, used_calls + calls, used_size + size)

    # token windows (llm-token-limit) -------------------------------------------------------------
    def tokens_used(self, counter: str, period_s: int) -> tuple[int, int]:
        """Tokens counted in the counter's current fixed window (it starts at its first use) and
        the seconds until it ends."""
        now = time.monotonic()
        start, used = self._tokens.get(counter, (now, 0))
        if now - start >= period_s:
            start, used = now, 0
            self._tokens[counter] = (start, used)
        return used, max(1, math.ceil(period_s - (now - start)))

    def tokens_add(self, counter: str, period_s: int, tokens: int) -> None:
        now = time.monotonic()
        start, used = self._tokens.get(counter, (now, 0))
        if now - start >= period_s:
            start, used = now, 0
        if len(self._tokens) > MAX_CACHE:
            self._tokens.clear()
        self._tokens[counter] = (start, max(0, used + tokens))

    # custom metrics (llm-emit-token-metric) ------------------------------------------------------
    def emit_metrics(self, records: list[dict[str, Any]]) -> None:
        """Append to ``<state>/customMetrics.jsonl`` (0600), one line per metric value, as
        Application Insights' ``customMetrics`` table has them (``name``, ``value``,
        ``customDimensions``; ``namespace``; ``component`` = the Application Insights resource
        of the service's logger). Written only when the service has an Application Insights
        logger: APIM sends custom metrics nowhere without one (Learn's prerequisites)."""
        if not self.app_insights:
            return
        path = self.emulator.state_dir / METRICS_FILE
        lines = "".join(json.dumps({**r, "component": self.app_insights}) + "\n" for r in records)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(lines)

    # OpenID configurations ------------------------------------------------------------------
    async def openid_config(self, url: str) -> OpenIdConfig:
        cached = self._openid.get(url)
        if cached is not None and time.monotonic() - cached.fetched < OPENID_TTL_S:
            return cached
        try:
            resp = await self.client.get(url, timeout=10.0)
            resp.raise_for_status()
            doc = resp.json()
            jwks_uri = doc.get("jwks_uri")
            keys: list[dict[str, Any]] = []
            if isinstance(jwks_uri, str):
                jresp = await self.client.get(jwks_uri, timeout=10.0)
                jresp.raise_for_status()
                keys = [k for k in jresp.json().get("keys", []) if isinstance(k, dict)]
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            raise PolicyFailure(
                "validate-jwt",
                "OpenIdConfigurationUnavailable",
                f"Unable to load the OpenID configuration from '{url}'.",
            ) from exc
        issuer = doc.get("issuer") if isinstance(doc.get("issuer"), str) else None
        config = OpenIdConfig(issuer, keys, time.monotonic())
        self._openid[url] = config
        return config

    # managed identity -----------------------------------------------------------------------
    def managed_identity_token(self, resource: str, client_id: str | None) -> str:
        from emulator.identity import sign

        identity = self.service_body.get("identity") or {}
        principal: str | None = None
        app_id: str | None = None
        if client_id:
            for uai in (identity.get("userAssignedIdentities") or {}).values():
                if isinstance(uai, dict) and uai.get("clientId") == client_id:
                    principal, app_id = uai.get("principalId"), client_id
        else:
            principal = identity.get("principalId")
            app_id = identity.get("clientId") or principal
        if not principal:
            raise PolicyFailure(
                "authentication-managed-identity",
                "ManagedIdentityNotEnabled",
                "Managed identity is not enabled for this service"
                + (f" (client id '{client_id}')." if client_id else "."),
            )
        now = int(time.time())
        ectx = self.emulator
        tenant = identity.get("tenantId") or ectx.tenant_id
        audience = resource[:-9] if resource.endswith("/.default") else resource
        claims = {
            "aud": audience,
            "iss": ectx.issuer(tenant),
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "azp": app_id,
            "appid": app_id,
            "idtyp": "app",
            "oid": principal,
            "sub": principal,
            "tid": tenant,
            "uti": uuid.uuid4().hex[:22],
            "ver": "2.0",
        }
        return sign(ectx, claims)

    def trace(self, record: dict[str, Any]) -> None:
        self.traces.append(record)
        if len(self.traces) > 1000:
            del self.traces[:500]
