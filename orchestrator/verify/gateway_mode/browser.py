"""The headless browser of the gateway-mode checks: follows the gateway's consent page and
Entra's sign-in like a user's browser (cookies, Fetch-Metadata headers, the consent form), and
returns where it was sent back to. ``consent_form`` parses the page (pure)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from orchestrator.verify.gateway_mode.model import MAX_HOPS, GatewayTarget, same_endpoint, with_params
from orchestrator.verify.http import ssl_context

_FORM = re.compile(r"<form\b[^>]*\baction=\"([^\"]*)\"[^>]*>(.*?)</form>", re.S | re.I)
_INPUT = re.compile(r"<input\b[^>]*>", re.I)
_ATTR = re.compile(r"(\w[\w-]*)=\"([^\"]*)\"")


def consent_form(page: str) -> tuple[str, dict[str, str]] | None:
    """The consent page's form: (action URL, hidden fields), or None when there is none."""
    m = _FORM.search(page)
    if m is None:
        return None
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(m.group(2)):
        attrs = {k.lower(): html.unescape(v) for k, v in _ATTR.findall(tag)}
        if attrs.get("type", "").lower() == "hidden" and "name" in attrs:
            fields[attrs["name"]] = attrs.get("value", "")
    return html.unescape(m.group(1)), fields


class SignInStoppedError(Exception):
    """The sign-in did not come back to the redirect URI; ``status``/``page`` say where it stopped."""

    def __init__(self, status: int, page: str) -> None:
        super().__init__(f"sign-in stopped at HTTP {status}")
        self.status = status
        self.page = page


class ConsentBrowser:
    """Plays the user's browser through the gateway's consent page and Entra's sign-in.

    ``decision`` is what the user clicks; ``tamper`` may rewrite the consent form fields or the
    Entra callback URL before they are sent (negative checks). Returns the URL the browser was
    sent back to (the client's redirect URI with ``code`` or ``error``).
    """

    def __init__(self, target: GatewayTarget) -> None:
        self._target = target
        self._http = httpx.AsyncClient(verify=ssl_context(target.ca_file), timeout=20, follow_redirects=False)
        self.authorization_url: str | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ConsentBrowser:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def sign_in(
        self,
        url: str,
        *,
        decision: str = "allow",
        form_tamper: Callable[[dict[str, str]], dict[str, str]] | None = None,
        callback_tamper: Callable[[str], str] | None = None,
    ) -> str:
        self.authorization_url = url
        if "login_hint=" not in url:
            url = with_params(url, login_hint=self._target.login_hint)
        navigate = {
            "Sec-Fetch-Mode": "navigate",
            "Sec-Fetch-Dest": "document",
            "Sec-Fetch-Site": "cross-site",
        }
        resp = await self._http.get(url, headers=navigate)
        if resp.status_code in (301, 302, 303, 307, 308):
            return await self._follow(str(resp.url.join(resp.headers["location"])), callback_tamper)
        form = consent_form(resp.text) if resp.status_code == 200 else None
        if form is None:
            raise SignInStoppedError(resp.status_code, resp.text[:300])
        action, fields = form
        fields["decision"] = decision
        if form_tamper is not None:
            fields = form_tamper(fields)
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(action))
        resp = await self._http.post(
            action,
            data=fields,
            headers={**navigate, "Sec-Fetch-Site": "same-origin", "Origin": origin},
        )
        if resp.status_code not in (301, 302, 303, 307, 308):
            raise SignInStoppedError(resp.status_code, resp.text[:300])
        return await self._follow(str(resp.url.join(resp.headers["location"])), callback_tamper)

    async def _follow(self, url: str, callback_tamper: Callable[[str], str] | None) -> str:
        callback = self._target.issuer + "/oauth-callback"
        for _ in range(MAX_HOPS):
            if same_endpoint(url, self._target.redirect_uri):
                return url
            if callback_tamper is not None and same_endpoint(url, callback):
                url = callback_tamper(url)
            resp = await self._http.get(
                url, headers={"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
            )
            location = resp.headers.get("location")
            if resp.status_code not in (301, 302, 303, 307, 308) or not location:
                raise SignInStoppedError(resp.status_code, resp.text[:300])
            url = str(resp.url.join(location))
        raise SignInStoppedError(0, "too many redirects")
