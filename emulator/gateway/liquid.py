"""Liquid templates of ``<set-body template="liquid">`` (python-liquid, set up as APIM documents
its Liquid: Learn, "set-body policy", "Using Liquid templates with set-body").

APIM runs DotLiquid "in C# mode": filter names are Pascal-cased (``AtLeast``, not ``at_least``)
and ``Date`` takes a .NET format (``{{body.start | Date: "yyyyMMddTHH:mm:ssZ"}}``). Only the
filters Learn lists are registered; any other name is refused when the policy is stored (the
template is parsed then). Tags are Liquid's (``if``, ``unless``, ``case``, ``for``, ``assign``,
``capture``, ``raw``, ``comment``, ``cycle``, ``increment``, …) minus those that read files
(``include``, ``render``) and the ones DotLiquid does not know (``echo``, ``liquid``, ``doc``).

The template binds ``body`` (the request body in inbound/backend, the response body in
outbound/on-error, parsed when its ``Content-Type`` is JSON: application/json, text/json or
``+json``; date-like strings become dates unless ``parse-date="false"``) and ``context``
(``Request``: ``Url``, ``Method``, ``OriginalMethod``, ``OriginalUrl``, ``IpAddress``,
``MatchedParameters``, ``HasBody``, ``Headers``; ``Response``: ``StatusCode``, ``Method``,
``Headers``; ``Url``/``OriginalUrl``: ``Scheme``, ``Host``, ``Port``, ``Path``, ``Query``,
``QueryString``, ``ToUri``, ``ToString``; and ``Variables``). Bounded: loop iterations, output
size, nesting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from liquid import BoundTemplate, Environment
from liquid.exceptions import LiquidError

from emulator.gateway.expr.values import format_datetime, parse_datetime, to_string

# Learn, set-body policy, "Supported Liquid filters" -> the Liquid filter that does the same
_FILTERS = {
    "Abs": "abs", "Append": "append", "AtLeast": "at_least", "AtMost": "at_most", "Capitalize": "capitalize",
    "Compact": "compact", "Default": "default", "DividedBy": "divided_by", "Downcase": "downcase",
    "Escape": "escape", "First": "first", "H": "escape", "Join": "join", "Last": "last", "Lstrip": "lstrip",
    "Map": "map", "Minus": "minus", "Modulo": "modulo", "NewlineToBr": "newline_to_br", "Plus": "plus",
    "Prepend": "prepend", "Remove": "remove", "RemoveFirst": "remove_first", "Replace": "replace",
    "ReplaceFirst": "replace_first", "Round": "round", "Rstrip": "rstrip", "Size": "size", "Slice": "slice",
    "Sort": "sort", "Split": "split", "Strip": "strip", "StripHtml": "strip_html",
    "StripNewlines": "strip_newlines", "Times": "times", "Truncate": "truncate", "TruncateWords": "truncatewords",
    "Uniq": "uniq", "Upcase": "upcase", "UrlDecode": "url_decode", "UrlEncode": "url_encode",
}  # fmt: skip
_NOT_DOTLIQUID_TAGS = ("include", "render", "echo", "liquid", "doc", "#")
_DATE_LIKE = re.compile(r"^(?:\d{4}-\d{2}-\d{2}(?:[T ][0-9:.]+)?(?:Z|[+-]\d{2}:?\d{2})?|/Date\(-?\d+\)/)$")
MAX_TEMPLATE = 1024 * 1024


class NetDate:
    """A date of the bound body: renders as .NET's ``mm/dd/yyyy hh:mm:ss`` (Learn: parse-date)."""

    def __init__(self, value: datetime) -> None:
        self.value = value

    def __str__(self) -> str:
        return self.value.strftime("%m/%d/%Y %H:%M:%S")


def _date(value: object, fmt: object = None) -> str:
    """DotLiquid's ``Date`` in C# mode: a .NET format string."""
    if isinstance(value, NetDate):
        moment = value.value
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip().lower() in ("now", "today"):
        moment = datetime.utcnow().replace(tzinfo=None)
    else:
        try:
            moment = parse_datetime(to_string(value))
        except Exception:
            return to_string(value)
    if fmt is None or to_string(fmt) == "":
        return str(NetDate(moment))
    return format_datetime(moment, to_string(fmt))


def _currency(value: object, *_culture: object) -> str:
    try:
        amount = float(to_string(value))
    except ValueError:
        return to_string(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


class _Environment(Environment):
    loop_iteration_limit = 100_000
    output_stream_limit = 4 * 1024 * 1024
    context_depth_limit = 30
    local_namespace_limit = 1024 * 1024


def _environment() -> Environment:
    env = _Environment()
    builtin = dict(env.filters)
    env.filters.clear()
    for name, liquid_name in _FILTERS.items():
        env.filters[name] = builtin[liquid_name]
    env.filters["Date"] = _date
    env.filters["Currency"] = _currency
    for tag in _NOT_DOTLIQUID_TAGS:
        env.tags.pop(tag, None)
    return env


ENV = _environment()


class LiquidTemplateError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


def compile_template(source: str) -> BoundTemplate:
    """Parse a template (when the policy is stored); ``LiquidTemplateError`` names the problem
    and its offset in ``source``."""
    if len(source) > MAX_TEMPLATE:
        raise LiquidTemplateError("The Liquid template is larger than the local gateway allows.", 0)
    try:
        template = ENV.from_string(source)
        # a filter is looked up when it runs: check the names now, as APIM does when storing
        for name, spans in template.analyze().filters.items():
            if name not in ENV.filters:
                raise LiquidTemplateError(
                    f"Liquid: unknown filter '{name}' (APIM's Liquid filters are Pascal-cased: "
                    f"{', '.join(sorted(ENV.filters))}).",
                    spans[0].index if spans else 0,
                )
        return template
    except LiquidError as exc:
        token = getattr(exc, "token", None)
        start = getattr(token, "start_index", -1)
        offset = start if isinstance(start, int) and start >= 0 else len(source)
        message = str(getattr(exc, "message", "") or exc)
        if "unexpected tag" in message or "unknown tag" in message:
            message += " (include/render read files; echo/liquid/doc are not DotLiquid's)"
        raise LiquidTemplateError(f"Liquid: {message}.", offset) from exc


class _NoCase(Mapping[str, Any]):
    """Headers and parameters: keys compared case-insensitively, as APIM's dictionaries."""

    def __init__(self, items: Mapping[str, Any]) -> None:
        self.lowered = {k.lower(): v for k, v in items.items()}
        self.names = list(items)

    def __getitem__(self, key: str) -> Any:
        return self.lowered[str(key).lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.lowered)


def _url(url: Any) -> dict[str, Any]:
    text = to_string(url)
    return {
        "Scheme": url.Scheme,
        "Host": url.Host,
        "Port": url.Port,
        "Path": url.Path,
        "Query": _NoCase({k: ",".join(to_string(x) for x in v) for k, v in _query(url).items()}),
        "QueryString": url.QueryString,
        "ToUri": text,
        "ToString": text,
    }


def _query(url: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in url.query:
        out.setdefault(k, []).append(v)
    return out


def _headers(headers: Any) -> _NoCase:
    joined: dict[str, str] = {}
    for k, v in headers.pairs():
        joined[k] = f"{joined[k]},{v}" if k in joined else v
    return _NoCase(joined)


def _dates(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates(v) for v in value]
    if isinstance(value, str) and _DATE_LIKE.match(value):
        m = re.match(r"^/Date\((-?\d+)\)/$", value)
        try:
            moment = (
                datetime(1970, 1, 1) + timedelta(milliseconds=int(m.group(1))) if m else parse_datetime(value)
            )
        except Exception:
            return value
        return NetDate(moment)
    return value


def bind_body(data: bytes, content_type: str, parse_date: bool) -> Any:
    """``body``: the JSON body as data when the Content-Type says JSON, else nothing."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not (media in ("application/json", "text/json") or media.endswith("+json")) or not data:
        return None
    try:
        value = json.loads(data.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    return _dates(value) if parse_date else value


def bind_context(ctx: Any) -> dict[str, Any]:
    request, response = ctx.Request, ctx.Response
    variables = {}
    for name in ctx.Variables.Keys:
        _, value = ctx.Variables.get(name)
        plain = isinstance(value, str | int | float | bool) or value is None
        variables[name] = value if plain else to_string(value)
    params = request.MatchedParameters
    return {
        "Request": {
            "Url": _url(request.Url),
            "Method": request.Method,
            "OriginalMethod": request.OriginalMethod,
            "OriginalUrl": _url(request.OriginalUrl),
            "IpAddress": request.IpAddress,
            "MatchedParameters": _NoCase({k: to_string(params.lookup(k)[1]) for k in params.Keys}),
            "HasBody": bool(request.Body.content),
            "ClientCertificates": [],
            "Headers": _headers(request.Headers),
        },
        "Response": {
            "StatusCode": response.StatusCode,
            "Method": request.Method,
            "Headers": _headers(response.Headers),
        },
        "Variables": _NoCase(variables),
    }


def render(template: BoundTemplate, body: Any, context: dict[str, Any]) -> str:
    return str(template.render(body=body, context=context))
