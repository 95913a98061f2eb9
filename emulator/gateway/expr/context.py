"""The ``context`` object model policy expressions see (APIM's IProxyRequestContext subset).

The policy engine (``gateway.engine``) owns one ``Context`` per request and mutates it as the
policies run (``set-header`` edits ``Request.Headers``, ``forward-request`` fills
``Response``); expressions read it through the declared .NET members only.
"""

# ruff: noqa: N802, N803  - members carry their .NET names (m_<Name> methods, .NET properties)

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from emulator.gateway.expr import jsonmodel as jm
from emulator.gateway.expr import netlib
from emulator.gateway.expr.values import EvalError, NetEnum, NetObject, to_string


class Headers(netlib.NetDict):
    """``IReadOnlyDictionary<string, string[]>``, case-insensitive; the engine edits it."""

    NET_TYPE = "IReadOnlyDictionary<string, string[]>"

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__()
        for name, value in pairs:
            self.append(name, value)

    def append(self, name: str, value: str) -> None:
        key = name.lower()
        entry = self._items.get(key)
        if entry is None:
            self._items[key] = (name, [value])
        else:
            entry[1].append(value)

    def set(self, name: str, values: list[str]) -> None:
        self._items[name.lower()] = (name, list(values))

    def remove(self, name: str) -> None:
        self._items.pop(name.lower(), None)

    def get_values(self, name: str) -> list[str] | None:
        entry = self._items.get(name.lower())
        return None if entry is None else list(entry[1])

    def pairs(self) -> list[tuple[str, str]]:
        return [(name, v) for name, values in self._items.values() for v in values]

    def m_GetValueOrDefault(self, key: object, default: object = None, _targs: tuple[str, ...] = ()) -> Any:
        found, value = self.lookup(key)
        return ",".join(value) if found else default


class Variables(netlib.NetDict):
    NET_TYPE = "IReadOnlyDictionary<string, object>"
    case_insensitive = False

    def set(self, name: str, value: Any) -> None:
        self._items[name] = (name, value)

    def get(self, name: str) -> tuple[bool, Any]:
        entry = self._items.get(name)
        return (False, None) if entry is None else (True, entry[1])

    def remove(self, name: str) -> None:
        self._items.pop(name, None)

    def m_GetValueOrDefault(self, key: object, default: object = None, _targs: tuple[str, ...] = ()) -> Any:
        found, value = self.lookup(key)
        if not found:
            if default is None and _targs and _targs[0] in ("int", "long", "double", "bool"):
                return {"int": 0, "long": 0, "double": 0.0, "bool": False}[_targs[0]]
            return default
        return netlib.cast(value, _targs[0], nullable=True) if _targs and _targs[0] != "byte[]" else value


class QueryDict(netlib.NetDict):
    NET_TYPE = "IReadOnlyDictionary<string, string[]>"
    case_insensitive = False

    def m_GetValueOrDefault(self, key: object, default: object = None, _targs: tuple[str, ...] = ()) -> Any:
        found, value = self.lookup(key)
        return ",".join(value) if found else default


class Url(NetObject):
    NET_TYPE = "IUrl"
    NET_CASTABLE = True
    NET_PROPS = frozenset({"Scheme", "Host", "Port", "Path", "QueryString", "Query"})
    NET_METHODS = frozenset({"ToUri", "ToString"})

    def __init__(self, scheme: str, host: str, port: int, path: str, query: list[tuple[str, str]]) -> None:
        self.Scheme = scheme
        self.Host = host
        self.Port = port
        self.Path = path
        self.query: list[tuple[str, str]] = query

    @classmethod
    def parse(cls, text: str) -> Url:
        from urllib.parse import urlsplit

        parts = urlsplit(text)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(
            parts.scheme,
            parts.hostname or "",
            port,
            parts.path or "/",
            parse_qsl(parts.query, keep_blank_values=True),
        )

    @property
    def QueryString(self) -> str:
        return ("?" + urlencode(self.query, quote_via=quote)) if self.query else ""

    @property
    def Query(self) -> QueryDict:
        grouped: dict[str, list[str]] = {}
        for k, v in self.query:
            grouped.setdefault(k, []).append(v)
        return QueryDict(grouped)

    def authority(self) -> str:
        default = (self.Scheme == "https" and self.Port == 443) or (self.Scheme == "http" and self.Port == 80)
        return self.Host if default else f"{self.Host}:{self.Port}"

    def net_str(self) -> str:
        return f"{self.Scheme}://{self.authority()}{quote(self.Path, safe='/%:@!$&()*+,;=-._~')}{self.QueryString}"

    def m_ToUri(self) -> netlib.UriObj:
        return netlib.UriObj(self.net_str())

    def m_ToString(self) -> str:
        return self.net_str()

    def copy(self) -> Url:
        return Url(self.Scheme, self.Host, self.Port, self.Path, list(self.query))


MAX_BODY = 16 * 1024 * 1024


class Body(NetObject):
    """``IMessageBody``: readable only when the engine buffered it (it does so when a policy
    of the pipeline reads ``Body``); ``As<T>()`` without ``preserveContent: true`` consumes it."""

    NET_TYPE = "IMessageBody"
    NET_CASTABLE = True
    NET_METHODS = frozenset({"As", "AsFormUrlEncodedContent"})

    def __init__(self, content: bytes | None) -> None:
        self.content = content

    def m_AsFormUrlEncodedContent(self, preserveContent: object = False) -> Any:
        """The body as URL-encoded form data (``IDictionary<string, IList<string>>``)."""
        from emulator.gateway.expr.netlib.web import FormContent

        text = self.m_As(preserveContent, ("string",))
        return FormContent(text)

    def m_As(self, preserveContent: object = False, _targs: tuple[str, ...] = ()) -> Any:
        if self.content is None:
            raise EvalError(
                "InvalidOperationException", "The message body is not available (it is being streamed)."
            )
        raw = self.content
        if preserveContent is not True:
            self.content = b""
        target = _targs[0] if _targs else "string"
        if target == "byte[]":
            return raw
        text = raw.decode("utf-8", errors="replace")
        if target in ("string", "String"):
            return text
        if target in ("JObject", "JArray", "JToken"):
            return jm.parse(text, target)
        raise EvalError(
            "NotSupportedException", f"Body.As<{target}>() is not supported by the local gateway."
        )


class Request(NetObject):
    NET_TYPE = "IRequest"
    NET_CASTABLE = True
    NET_PROPS = frozenset(
        {
            "Method",
            "Url",
            "OriginalUrl",
            "Headers",
            "Body",
            "IpAddress",
            "Certificate",
            "MatchedParameters",
            "OriginalMethod",
        }
    )

    def __init__(self, method: str, url: Url, headers: Headers, body: Body, ip: str) -> None:
        self.Method = method
        self.OriginalMethod = method
        self.Url = url
        self.OriginalUrl = url.copy()
        self.Headers = headers
        self.Body = body
        self.IpAddress = ip
        self.Certificate = None
        self.MatchedParameters = netlib.NetDict({})


class Response(NetObject):
    NET_TYPE = "IResponse"
    NET_CASTABLE = True
    NET_PROPS = frozenset({"StatusCode", "StatusReason", "Headers", "Body"})

    def __init__(
        self, status: int = 200, reason: str = "OK", headers: Headers | None = None, body: Body | None = None
    ) -> None:
        self.StatusCode = status
        self.StatusReason = reason
        self.Headers = headers if headers is not None else Headers()
        self.Body = body if body is not None else Body(b"")


class LastError(NetObject):
    NET_TYPE = "ILastError"
    NET_PROPS = frozenset({"Source", "Reason", "Message", "Scope", "Section", "Path", "PolicyId"})

    def __init__(
        self,
        source: str,
        reason: str,
        message: str,
        scope: str,
        section: str,
        path: str = "",
        policy_id: str = "",
    ) -> None:
        self.Source = source
        self.Reason = reason
        self.Message = message
        self.Scope = scope
        self.Section = section
        self.Path = path
        self.PolicyId = policy_id


class Gateway(NetObject):
    NET_TYPE = "IGateway"
    NET_PROPS = frozenset({"Id", "InstanceId", "IsManaged"})

    def __init__(self) -> None:
        self.Id = "managed"
        self.InstanceId = "local-gateway"
        self.IsManaged = True


class Deployment(NetObject):
    NET_TYPE = "IDeployment"
    NET_PROPS = frozenset({"Region", "ServiceName", "ServiceId", "Gateway"})

    def __init__(self, service_name: str, service_id: str, region: str) -> None:
        self.ServiceName = service_name
        self.ServiceId = service_id
        self.Region = region
        self.Gateway = Gateway()


class SubscriptionKeyNames(NetObject):
    NET_TYPE = "ISubscriptionKeyParameterNames"
    NET_PROPS = frozenset({"Header", "Query"})

    def __init__(self, header: str, query: str) -> None:
        self.Header = header
        self.Query = query


class Api(NetObject):
    NET_TYPE = "IApi"
    NET_PROPS = frozenset(
        {
            "Id",
            "Name",
            "Path",
            "Protocols",
            "ServiceUrl",
            "SubscriptionKeyParameterNames",
            "Version",
            "Revision",
            "IsCurrentRevision",
            "Type",
        }
    )

    def __init__(self, body: dict[str, Any], api_id: str) -> None:
        props = body.get("properties") or {}
        self.Id = api_id
        self.Name = to_string(props.get("displayName") or body.get("name") or api_id)
        self.Path = "/" + to_string(props.get("path") or "").strip("/")
        self.Protocols = list(props.get("protocols") or ["https"])
        service_url = props.get("serviceUrl")
        self.ServiceUrl = (
            netlib.UriObj(service_url) if isinstance(service_url, str) and "://" in service_url else None
        )
        names = props.get("subscriptionKeyParameterNames") or {}
        self.SubscriptionKeyParameterNames = SubscriptionKeyNames(
            names.get("header", "Ocp-Apim-Subscription-Key"), names.get("query", "subscription-key")
        )
        self.Version = props.get("apiVersion") or ""
        self.Revision = to_string(props.get("apiRevision") or "1")
        self.IsCurrentRevision = props.get("isCurrent", True) is not False
        self.Type = to_string(props.get("type") or "http")


class Operation(NetObject):
    NET_TYPE = "IOperation"
    NET_PROPS = frozenset({"Id", "Name", "Method", "UrlTemplate"})

    def __init__(self, op_id: str, name: str, method: str, template: str) -> None:
        self.Id = op_id
        self.Name = name
        self.Method = method
        self.UrlTemplate = template


class Group(NetObject):
    """IGroup (Learn "API Management policy expressions", context variables): Id, Name."""

    NET_TYPE = "IGroup"
    NET_PROPS = frozenset({"Id", "Name"})

    def __init__(self, group_id: str, name: str) -> None:
        self.Id = group_id
        self.Name = name


class UserIdentity(NetObject):
    NET_TYPE = "IUserIdentity"
    NET_PROPS = frozenset({"Id", "Provider"})

    def __init__(self, identity_id: str, provider: str) -> None:
        self.Id = identity_id
        self.Provider = provider


class User(NetObject):
    """``context.User``: the owner of the request's subscription (null without one)."""

    NET_TYPE = "IUser"
    NET_PROPS = frozenset({"Email", "FirstName", "Groups", "Id", "Identities", "LastName", "Note", "RegistrationDate"})  # fmt: skip

    def __init__(
        self,
        user_id: str,
        email: str,
        first: str,
        last: str,
        note: str | None,
        registered: datetime | None,
        groups: list[Group],
        identities: list[UserIdentity],
    ) -> None:
        self.Id = user_id
        self.Email = email
        self.FirstName = first
        self.LastName = last
        self.Note = note
        self.RegistrationDate = registered
        self.Groups = groups
        self.Identities = identities


class Subscription(NetObject):
    """``context.Subscription``: the subscription whose key the request carried (null without one).
    ``Key`` is the key sent. Learn's table names the creation date ``CreatedDate`` (older versions
    of the page: ``CreatedTime``); both answer it."""

    NET_TYPE = "ISubscription"
    NET_PROPS = frozenset({"CreatedDate", "CreatedTime", "EndDate", "Id", "Key", "Name", "PrimaryKey", "SecondaryKey", "StartDate"})  # fmt: skip

    def __init__(
        self,
        sid: str,
        name: str,
        key: str,
        primary: str,
        secondary: str,
        created: datetime | None,
        start: datetime | None,
        end: datetime | None,
    ) -> None:
        self.Id = sid
        self.Name = name
        self.Key = key
        self.PrimaryKey = primary
        self.SecondaryKey = secondary
        self.CreatedDate = created
        self.CreatedTime = created
        self.StartDate = start
        self.EndDate = end


class Product(NetObject):
    """``context.Product``: the product of a product-scoped subscription, or the open product the
    request is handled in (null otherwise). ``State`` is the enum ``ProductState``."""

    NET_TYPE = "IProduct"
    NET_PROPS = frozenset({"Apis", "ApprovalRequired", "Groups", "Id", "Name", "State", "SubscriptionLimit", "SubscriptionRequired"})  # fmt: skip

    def __init__(
        self,
        product_id: str,
        name: str,
        published: bool,
        approval_required: bool,
        subscription_required: bool,
        limit: int | None,
        apis: list[Api],
        groups: list[Group],
    ) -> None:
        self.Id = product_id
        self.Name = name
        self.State = NetEnum("ProductState", "Published" if published else "NotPublished")
        self.ApprovalRequired = approval_required
        self.SubscriptionRequired = subscription_required
        self.SubscriptionLimit = limit
        self.Apis = apis
        self.Groups = groups


class Context(NetObject):
    NET_TYPE = "IProxyRequestContext"
    NET_PROPS = frozenset(
        {"Request", "Response", "Variables", "LastError", "Deployment", "RequestId", "Timestamp", "Elapsed", "Api", "Operation", "Subscription", "User", "Product", "Tracing"}
    )  # fmt: skip
    NET_METHODS = frozenset({"Trace"})

    def __init__(
        self, request: Request, deployment: Deployment, api: Api | None, operation: Operation | None
    ) -> None:
        self.Request = request
        self.Response = Response()
        self.Variables = Variables()
        self.LastError: LastError | None = None
        self.Deployment = deployment
        self.RequestId = uuid.uuid4()
        self.Timestamp = netlib.now()
        self.Api = api
        self.Operation = operation
        self.Subscription: Subscription | None = None
        self.User: User | None = None
        self.Product: Product | None = None
        self.Tracing = False
        self.traces: list[tuple[str, str]] = []

    @property
    def Elapsed(self) -> timedelta:
        return netlib.now() - self.Timestamp

    def m_Trace(self, message: object, *rest: object) -> None:
        self.traces.append(("expression", to_string(message)))


def sample_context(
    method: str = "GET",
    url: str = "https://contoso.azure-api.net/mcp?x=1",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | None = b"",
) -> Context:
    """A context for tests and the corpus (no network)."""
    req = Request(method, Url.parse(url), Headers(headers), Body(body), "127.0.0.1")
    dep = Deployment(
        "contoso",
        "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ApiManagement/service/contoso",
        "local",
    )
    api = Api(
        {"name": "mcp", "properties": {"path": "mcp", "serviceUrl": "https://backend.example/mcp"}}, "mcp"
    )
    op = Operation("post", "post", method, "/*")
    return Context(req, dep, api, op)


def json_body(value: Any) -> bytes:
    return json.dumps(value).encode()
