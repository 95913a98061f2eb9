"""HTML pages of the identity service: sign-in (a test user and their password), consent, error, form_post.

Where it sits: the authorize endpoint renders these. Jinja with autoescaping; every page is
sent with a strict Content-Security-Policy and ``X-Frame-Options: DENY`` (no clickjacking of
the consent button). Forms post back to the authorize endpoint with the transaction id only.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import jinja2
from starlette.responses import HTMLResponse

from emulator.identity.directory import User

_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} — prmlab identity</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;background:#f2f2f2;margin:0}
main{max-width:440px;margin:60px auto;background:#fff;padding:32px 40px;box-shadow:0 2px 6px #0003}
h1{font-size:1.4em;font-weight:600} .muted{color:#666;font-size:.9em}
button{display:block;width:100%;text-align:left;padding:10px 12px;margin:8px 0;border:1px solid #ccc;
background:#fff;cursor:pointer;font-size:1em} button:hover{background:#eef}
.primary{background:#0067b8;color:#fff;text-align:center} .err{color:#a80000}
</style></head><body><main>{% block body %}{% endblock %}<p class="muted">prmlab local identity
service (tenant {{ tenant }})</p></main></body></html>"""

_SIGNIN = """{% extends "base" %}{% block body %}
<h1>Sign in</h1><p>to continue to <b>{{ client_name }}</b></p>
{% if notice %}<p class="err">{{ notice }}</p>{% endif %}
{% if users %}<form method="post" action="{{ action }}"><input type="hidden" name="txn" value="{{ txn }}">
<p><label>Password<br><input type="password" name="password" autocomplete="current-password"
 style="width:100%;padding:8px;font-size:1em;box-sizing:border-box" required></label></p>
<p class="muted">Then pick the account. Passwords: <code>verification.test_users[].password</code>
in lab.yaml, else the generated ones in <code>.prmlab/test-users.json</code> next to it.</p>
{% for u in users %}<button type="submit" name="user" value="{{ u.id }}"><b>{{ u.display_name }}</b><br>
<span class="muted">{{ u.upn }}</span></button>{% endfor %}</form>
{% else %}<p class="err">This directory has no test users. Add users to lab.yaml and reconcile.</p>{% endif %}
{% endblock %}"""

_CONSENT = """{% extends "base" %}{% block body %}
<h1>Permissions requested</h1><p><b>{{ client_name }}</b> wants to act as <b>{{ user }}</b> on
<b>{{ resource_name }}</b>:</p><ul>{% for s in scopes %}<li><b>{{ s[0] }}</b><br>
<span class="muted">{{ s[1] }}</span></li>{% endfor %}</ul>
<form method="post" action="{{ action }}"><input type="hidden" name="txn" value="{{ txn }}">
<button class="primary" type="submit" name="decision" value="accept">Accept</button>
<button type="submit" name="decision" value="cancel">Cancel</button></form>
{% endblock %}"""

_ERROR = """{% extends "base" %}{% block body %}
<h1>Sorry, but we're having trouble signing you in.</h1><p class="err">{{ message }}</p>
{% endblock %}"""

_FORM_POST = """<!doctype html><html><head><title>Working…</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{{ action }}">
{% for k, v in params %}<input type="hidden" name="{{ k }}" value="{{ v }}">{% endfor %}
<noscript><button type="submit">Continue</button></noscript></form></body></html>"""

_ENV = jinja2.Environment(
    loader=jinja2.DictLoader(
        {"base": _BASE, "signin": _SIGNIN, "consent": _CONSENT, "error": _ERROR, "form_post": _FORM_POST}
    ),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)

_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"


# The sign-in and consent pages: no ``form-action``. Browsers apply it to every redirect that
# follows a form submission (CSP Level 3 "form-action"; Chromium blocks the hop), and the answer
# to these forms is a redirect chain this page cannot know the end of: Entra -> the client's
# redirect URI (here the gateway's /oauth-callback) -> the gateway's own client's redirect URI.
# With ``form-action 'self'`` Chromium stopped right after "sign in" (found by the real-browser
# test, ``test_mcp_inspector_web_ui_in_a_real_browser``). Scripts stay off (default-src 'none').
_FORM_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


_TITLES = {"signin": "Sign in", "consent": "Permissions requested", "error": "Error", "form_post": "Working"}


def _page(name: str, status: int = 200, csp: str = _CSP, **values: object) -> HTMLResponse:
    html = _ENV.get_template(name).render(title=_TITLES[name], **values)
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Content-Security-Policy": csp,
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


def signin(
    *,
    tenant: str,
    action: str,
    txn: str,
    client_name: str,
    users: Sequence[User],
    notice: str | None = None,
) -> HTMLResponse:
    return _page(
        "signin",
        csp=_FORM_CSP,
        tenant=tenant,
        action=action,
        txn=txn,
        client_name=client_name,
        users=users,
        notice=notice,
    )


def consent(
    *,
    tenant: str,
    action: str,
    txn: str,
    client_name: str,
    user: str,
    resource_name: str,
    scopes: Sequence[tuple[str, str]],
) -> HTMLResponse:
    return _page(
        "consent",
        csp=_FORM_CSP,
        tenant=tenant,
        action=action,
        txn=txn,
        client_name=client_name,
        user=user,
        resource_name=resource_name,
        scopes=scopes,
    )


def error(*, tenant: str, message: str, status: int = 400) -> HTMLResponse:
    return _page("error", status=status, tenant=tenant, message=message)


def form_post(action: str, params: Sequence[tuple[str, str]]) -> HTMLResponse:
    origin = urlsplit(action)
    csp = f"default-src 'none'; script-src 'unsafe-inline'; form-action {origin.scheme}://{origin.netloc}"
    return _page("form_post", csp=csp, action=action, params=params)
