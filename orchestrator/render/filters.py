"""Jinja filters of the policy environment: safe JSON-in-XML, HTTP quoted strings, URL and scope checks.

Used by ``environment.py``; each filter understands the special values of ``values.py``
(a :class:`NamedValueRef` stays ``{{Name}}``, ``UNKNOWN`` stays ``(known after apply)``) and
raises ``ValueRefusedError`` (turned into a ``RenderError`` naming the template line) when a value
would make the policy wrong.

Escaping layers: a filter returns plain text that still needs XML escaping (autoescape does it),
except ``tojson``, which escapes for XML itself and returns markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Undefined
from markupsafe import Markup, escape

from orchestrator.render.values import KNOWN_AFTER_APPLY, NamedValueRef, ValueRefusedError, is_unknown

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) — no space, '"' or '\'.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_FORBIDDEN_SCOPES = frozenset({"offline_access"})


def _plain(value: Any) -> Any:
    """Text that autoescape already turned into markup (``a ~ b``) back to plain text.

    An undefined variable raises its ``UndefinedError`` here (StrictUndefined), so a filter
    never hides a missing variable.
    """
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return value.unescape() if isinstance(value, Markup) else value


def _json_default(value: Any) -> Any:
    if isinstance(value, NamedValueRef):
        return value.token
    if is_unknown(value):
        return KNOWN_AFTER_APPLY
    raise ValueRefusedError(f"cannot write a {type(value).__name__} as JSON")


def _jsonable(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, Mapping):
        return {str(_plain(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def tojson(value: Any) -> Markup:
    """JSON text of ``value``, escaped for XML element content (``&``, ``<``, ``>``).

    Named-value tokens become the JSON string ``"{{Name}}"`` (the named value must then hold
    JSON-safe text, such as a GUID or URL). Only for element content: in an attribute the
    JSON's quotes make the XML malformed, which the renderer reports.
    """
    text = json.dumps(_jsonable(value), ensure_ascii=False, separators=(", ", ": "), default=_json_default)
    # Safe: every XML-special character of element content is escaped just above.
    return Markup(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))  # noqa: S704


def quoted_string(value: Any) -> Any:
    """Content of an HTTP quoted-string (RFC 9110 §5.6.4): backslash-escape ``\\`` and ``"``."""
    _plain(value)
    if isinstance(value, NamedValueRef) or is_unknown(value):
        return value
    if isinstance(value, Markup):
        return escape(quoted_string(value.unescape()))
    text = str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"')


def http_url(value: Any) -> Any:
    """Require an absolute ``https``/``http`` URL without fragment (a list: every item)."""
    _plain(value)
    if isinstance(value, list | tuple):
        for item in value:
            http_url(item)
        return value
    if isinstance(value, NamedValueRef) or is_unknown(value):
        return value
    text = str(_plain(value))
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.netloc or " " in text:
        raise ValueRefusedError(f"{text!r} is not an absolute http(s) URL")
    if parts.fragment or text.endswith("#"):
        raise ValueRefusedError(f"{text!r} must not have a fragment")
    return value


def absolute_uri(value: Any) -> Any:
    """Require an absolute URI of any scheme (``api://...``, ``https://...``), without spaces."""
    _plain(value)
    if isinstance(value, NamedValueRef) or is_unknown(value):
        return value
    text = str(_plain(value))
    if not urlsplit(text).scheme or not re.fullmatch(r"[a-zA-Z][a-zA-Z0-9+.-]*:\S+", text):
        raise ValueRefusedError(f"{text!r} is not an absolute URI")
    return value


def scope_token(value: Any) -> Any:
    """Require RFC 6749 scope tokens (a list: every item); ``offline_access`` is never advertised."""
    _plain(value)
    if isinstance(value, list | tuple):
        for item in value:
            scope_token(item)
        return value
    if isinstance(value, NamedValueRef) or is_unknown(value):
        return value
    text = str(_plain(value))
    if not _SCOPE_TOKEN.fullmatch(text):
        raise ValueRefusedError(f"{text!r} is not a valid OAuth scope (RFC 6749 §3.3)")
    if text in _FORBIDDEN_SCOPES:
        raise ValueRefusedError(f"{text!r} must never be advertised as a scope of the MCP resource")
    return value


def scope_claim(value: Any) -> Any:
    """The value Entra puts in the ``scp`` claim for a scope: the part after its last ``/``.

    ``api://x/user_impersonate`` and ``<client id>/user_impersonate`` both give ``user_impersonate``.
    """
    _plain(value)
    if is_unknown(value):
        return value
    if isinstance(value, NamedValueRef):
        raise ValueRefusedError(
            f"cannot derive the 'scp' claim value from named value {value.token}; give the scope as text"
        )
    text = str(_plain(value))
    return text.rsplit("/", 1)[-1]


def nonempty(value: Any) -> Any:
    """Require a non-empty list."""
    _plain(value)
    if is_unknown(value):
        return value
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 0:
        raise ValueRefusedError("the list must not be empty")
    return value


def whole_number(value: Any) -> Any:
    """Require a whole number (an int, or digits): APIM's attributes that take no expression
    (``quota calls``, ``renewal-period``)."""
    _plain(value)
    if is_unknown(value):
        return value
    if isinstance(value, NamedValueRef):
        raise ValueRefusedError(
            f"named value {value.token} cannot be used here: the attribute takes a literal number"
        )
    if isinstance(value, bool) or not (
        (isinstance(value, int) and value >= 0) or (isinstance(value, str) and value.isdigit())
    ):
        raise ValueRefusedError(f"{value!r} is not a whole number")
    return str(int(value))


FILTERS = {
    "tojson": tojson,
    "qs": quoted_string,
    "http_url": http_url,
    "absolute_uri": absolute_uri,
    "scope_token": scope_token,
    "scope_claim": scope_claim,
    "nonempty": nonempty,
    "whole_number": whole_number,
}
