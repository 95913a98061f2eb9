"""Value types shared by the lab.yaml models: references, named-value tokens, literal-or-ref unions.

Part of the spec (``orchestrator.spec``). A reference is written ``{ref: "<address>.<output>"}``
with an optional ``suffix`` appended literally after resolution; it is a typed object here,
never a glued string. Which addresses and outputs exist is decided by ``refs.py``.

Unions of a literal and a reference use *callable discriminators*, so that pydantic validates
exactly one branch and reports one precise error (not one per branch). Tags are written
``<name>`` so that the error-path mapper can tell them from YAML keys.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Strict,
    StringConstraints,
    Tag,
    WithJsonSchema,
    model_validator,
)

# regex -> what it means in words: validation messages say "must be <words>", not the regex.
PATTERN_HELP: dict[str, str] = {}


def pattern(regex: str, words: str) -> StringConstraints:
    """A string pattern constraint whose violation is explained as ``must be <words>``."""
    PATTERN_HELP[regex] = words
    return StringConstraints(pattern=regex)


# A scope value (Graph permissionScope.value): "Must not exceed 120 characters in length.
# Allowed characters are : ! # $ % & ' ( ) * + , - . / : ; < = > ? @ [ ] ^ + _ ` { | } ~, as well
# as characters in the ranges 0-9, A-Z and a-z. Any other character, including the space
# character, are not allowed. May not begin with ." (https://learn.microsoft.com/graph/api/resources/permissionscope).
# The lab also refuses '/': a scope is requested as <identifier URI or client id>/<value>, and the
# policies (render.filters.scope_claim) and the verifier take the value after the last '/'.
SCOPE_VALUE_MAX = 120
ENTRA_SCOPE_SYMBOLS = ":!#$%&'()*+,-./;<=>?@[]^_`{|}~"
SCOPE_VALUE_SYMBOLS = ENTRA_SCOPE_SYMBOLS.replace("/", "")
_KEY = r"[A-Za-z0-9][A-Za-z0-9_-]*"


def _char_class(symbols: str) -> str:
    """A class of letters, digits and ``symbols`` that Python's re, pydantic's Rust regex and
    ECMAScript (lab.schema.json, unicode mode) read alike: only ``[ ] ^ - \\`` are escaped (an
    escaped ``#``/``&``/``~`` is an error in ECMAScript's unicode mode; a doubled ``&``/``~``/``-``
    would be a set operation in Rust, and each symbol appears once)."""
    return "[A-Za-z0-9" + "".join("\\" + c if c in "[]^-\\" else c for c in symbols) + "]"


_SCOPE_VALUE = _char_class(SCOPE_VALUE_SYMBOLS.replace(".", "")) + _char_class(SCOPE_VALUE_SYMBOLS) + "*"
# `<address>.<output>`; a scope named by value (`entra.apps.<k>.scopes.<value>`) keeps its value
# whole: dots, ':' and the other characters Entra allows in it.
REF_PATTERN = rf"^(?:entra\.apps\.{_KEY}\.scopes\.{_SCOPE_VALUE}|[A-Za-z_][A-Za-z0-9_]*(?:\.{_KEY})+)$"
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$"
PATTERN_HELP[REF_PATTERN] = "'<address>.<output>', e.g. 'entra.apps.mcp.client_id'"

# A map key that becomes part of an address (``api.<key>``): no dots, no spaces.
Key = Annotated[
    str,
    pattern(KEY_PATTERN, "letters, digits, '-' and '_' (starting with a letter or digit, at most 80)"),
]


# Numbers and booleans are strict: YAML already typed them, so `port: true` (bool is an int in
# Python), `port: "8000"` or `enabled: 1` are mistakes to report, not values to coerce. Every
# int/float/bool field of a lab.yaml model uses these (tests/orchestrator/spec checks it).
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]  # an integer is a valid number (cpu: 1)
Bool = Annotated[bool, Strict()]


class Spec(BaseModel):
    """Base of every lab.yaml model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def ref_parts(ref: str) -> tuple[str, str]:
    """``"entra.apps.mcp.client_id"`` -> ``("entra.apps.mcp", "client_id")``; a scope named by
    value keeps its dots: ``"entra.apps.mcp.scopes.mcp.access"`` ->
    ``("entra.apps.mcp.scopes", "mcp.access")``."""
    parts = ref.split(".")
    if parts[:2] == ["entra", "apps"] and len(parts) > 4 and parts[3] == "scopes":
        return ".".join(parts[:4]), ".".join(parts[4:])
    address, _, output = ref.rpartition(".")
    return address, output


class Ref(Spec):
    """``{ref: "apim.apis.mcp.url", suffix: "/x"}``: the value of another resource's output."""

    ref: Annotated[
        str,
        Field(
            pattern=REF_PATTERN,
            description="<address>.<output>, e.g. entra.apps.mcp.client_id or server.url",
        ),
    ]
    suffix: str = Field("", description="Literal text appended to the resolved value, e.g. /auth/callback")

    @property
    def address(self) -> str:
        """The referenced resource, e.g. ``entra.apps.mcp``."""
        return ref_parts(self.ref)[0]

    @property
    def output(self) -> str:
        """The output of that resource, e.g. ``client_id``."""
        return ref_parts(self.ref)[1]

    def __str__(self) -> str:
        return f"{{ref: {self.ref}, suffix: {self.suffix}}}" if self.suffix else f"{{ref: {self.ref}}}"


class NamedValueToken(Spec):
    """``{named_value: McpClientId}``: rendered as APIM's ``{{McpClientId}}`` in a policy."""

    named_value: Annotated[str, Field(description="The key of a declared apim.named_values entry")]


def _literal_or_ref(value: Any) -> str:
    return "<ref>" if isinstance(value, dict | Ref) else "<str>"


# A string literal or a reference.
StrOrRef = Annotated[
    Annotated[str, Tag("<str>")] | Annotated[Ref, Tag("<ref>")],
    Discriminator(_literal_or_ref),
]


def _url_checker(schemes: frozenset[str], *, loopback_http: bool = False, max_length: int = 0) -> Any:
    def check(value: str) -> str:
        if any(c.isspace() for c in value):
            raise ValueError("a URL cannot contain spaces")
        if max_length and len(value) > max_length:
            raise ValueError(f"a redirect URI is at most {max_length} characters")
        parts = urlsplit(value)
        scheme = parts.scheme.lower()
        loopback = (parts.hostname or "") in ("localhost", "127.0.0.1", "::1")
        allowed = scheme in schemes or (loopback_http and scheme == "http" and loopback)
        if not allowed:
            wanted = " or ".join(sorted(schemes)) + (" (or http on localhost)" if loopback_http else "")
            raise ValueError(f"'{value}' is not a valid URL: expected {wanted}")
        if scheme in ("http", "https") and not parts.hostname:
            raise ValueError(f"'{value}' is not a valid URL: it has no host")
        if parts.fragment:
            raise ValueError(f"'{value}' is not a valid URL here: it must not have a #fragment")
        return value

    return AfterValidator(check)


_SCOPE_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" + ENTRA_SCOPE_SYMBOLS
)
_ENTRA_SCOPE_RULE = "(Entra's rule: https://learn.microsoft.com/graph/api/resources/permissionscope)"


def _check_scope_value(value: str) -> str:
    """Entra's rule for ``permissionScope.value`` (see ``ENTRA_SCOPE_SYMBOLS``), plus the lab's '/'."""
    problems = []
    if not value:
        problems.append("a scope value cannot be empty")
    if len(value) > SCOPE_VALUE_MAX:
        problems.append(f"a scope value is {len(value)} characters long (at most {SCOPE_VALUE_MAX})")
    bad = sorted({c for c in value if c not in _SCOPE_CHARS}, key=value.index)
    if bad:
        shown = ", ".join("a space" if c == " " else repr(c) for c in bad)
        problems.append(
            f"a scope value cannot contain {shown} (allowed: letters, digits and {ENTRA_SCOPE_SYMBOLS})"
        )
    if value.startswith("."):
        problems.append("a scope value cannot start with '.'")
    if problems:
        raise ValueError(f"{'; '.join(problems)} {_ENTRA_SCOPE_RULE}")
    if "/" in value:
        raise ValueError(
            "a scope value cannot contain '/' in this lab (Entra allows it): a scope is requested as "
            "<identifier URI or client id>/<value>, and the lab's policies and checks take the value "
            "after the last '/'"
        )
    return value


# An exposed scope's value (``entra.apps.<k>.scopes[].value``); lab.schema.json carries the same
# rule as a pattern for editors.
ScopeValue = Annotated[
    str,
    AfterValidator(_check_scope_value),
    WithJsonSchema(
        {"type": "string", "pattern": rf"^(?!\.){_char_class(SCOPE_VALUE_SYMBOLS)}{{1,{SCOPE_VALUE_MAX}}}$"}
    ),
]

HttpUrl = Annotated[str, _url_checker(frozenset({"http", "https"}))]
HttpsUrl = Annotated[str, _url_checker(frozenset({"https"}))]
# Redirect URIs, browser (SPA / web) and public client (native) alike: https, or http on the
# loopback host only, at most 256 characters - Entra's rules ("Redirect URI (reply URL)
# restrictions", https://learn.microsoft.com/entra/identity-platform/reply-url) and the MCP
# authorization spec's ("Redirect URIs MUST be either localhost URLs or HTTPS URLs"). Custom
# schemes are refused with them: `javascript:` or `file:` would hand codes to anything.
RedirectUri = Annotated[str, _url_checker(frozenset({"https"}), loopback_http=True, max_length=256)]
PublicClientUri = RedirectUri
# Identifier URIs: api://... or https://...
IdentifierUri = Annotated[str, _url_checker(frozenset({"api", "https"}))]

UrlOrRef = Annotated[
    Annotated[HttpUrl, Tag("<str>")] | Annotated[Ref, Tag("<ref>")], Discriminator(_literal_or_ref)
]
HttpsUrlOrRef = Annotated[
    Annotated[HttpsUrl, Tag("<str>")] | Annotated[Ref, Tag("<ref>")], Discriminator(_literal_or_ref)
]
RedirectUriOrRef = Annotated[
    Annotated[RedirectUri, Tag("<str>")] | Annotated[Ref, Tag("<ref>")], Discriminator(_literal_or_ref)
]
PublicClientUriOrRef = Annotated[
    Annotated[PublicClientUri, Tag("<str>")] | Annotated[Ref, Tag("<ref>")], Discriminator(_literal_or_ref)
]
IdentifierUriOrRef = Annotated[
    Annotated[IdentifierUri, Tag("<str>")] | Annotated[Ref, Tag("<ref>")], Discriminator(_literal_or_ref)
]


def _scalar_text(value: Any) -> Any:
    """Numbers and booleans written for a text setting become text (``8000`` -> ``"8000"``,
    ``true`` -> ``"true"``): APIM named values and environment variables are strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


# A text setting (named value, environment variable): numbers and booleans are taken as text.
SettingText = Annotated[str, BeforeValidator(_scalar_text, json_schema_input_type=str | int | float | bool)]


def _secret_or_ref(value: Any) -> str:
    if isinstance(value, dict | Ref):
        return "<ref>"
    if isinstance(value, SecretStr):
        return "<secret>"
    return "<str>"


# A named value's value: a literal, a secret literal (``secret: true``), or a reference.
NamedValueValue = Annotated[
    Annotated[SettingText, Tag("<str>")]
    | Annotated[SecretStr, Tag("<secret>")]
    | Annotated[Ref, Tag("<ref>")],
    Discriminator(_secret_or_ref),
]


class EnvVar(Spec):
    """A server environment variable written in full: ``{value: ..., secret: true}``."""

    value: NamedValueValue
    secret: Bool = False

    @model_validator(mode="before")
    @classmethod
    def _hide_secret(cls, data: Any) -> Any:
        return hide_secret_value(data)


def hide_secret_value(data: Any) -> Any:
    """``{value: "x", secret: true}`` -> the value becomes a ``SecretStr`` before validation."""
    if isinstance(data, dict) and data.get("secret") is True:
        value = _scalar_text(data.get("value"))
        if isinstance(value, str):
            return {**data, "value": SecretStr(value)}
    return data


def _env_tag(value: Any) -> str:
    if isinstance(value, Ref):
        return "<ref>"
    if isinstance(value, EnvVar):
        return "<env>"
    if isinstance(value, dict):
        return "<ref>" if "ref" in value else "<env>"
    return "<str>"


# A server env value: a literal, a reference, or {value, secret}.
EnvValue = Annotated[
    Annotated[SettingText, Tag("<str>")] | Annotated[Ref, Tag("<ref>")] | Annotated[EnvVar, Tag("<env>")],
    Discriminator(_env_tag),
]


def _policy_scalar_tag(value: Any) -> str:
    if isinstance(value, bool):
        return "<bool>"
    if isinstance(value, int):
        return "<int>"
    if isinstance(value, NamedValueToken):
        return "<named_value>"
    if isinstance(value, Ref):
        return "<ref>"
    if isinstance(value, dict):
        return "<named_value>" if "named_value" in value else "<ref>"
    return "<str>"


PolicyScalar = Annotated[
    Annotated[bool, Tag("<bool>")]
    | Annotated[int, Tag("<int>")]
    | Annotated[str, Tag("<str>")]
    | Annotated[Ref, Tag("<ref>")]
    | Annotated[NamedValueToken, Tag("<named_value>")],
    Discriminator(_policy_scalar_tag),
]


def _policy_value_tag(value: Any) -> str:
    return "<list>" if isinstance(value, list | tuple) else "<scalar>"


# A policy variable: a literal (str/int/bool), a reference, a named-value token, or a list of those.
PolicyValue = Annotated[
    Annotated[PolicyScalar, Tag("<scalar>")] | Annotated[tuple[PolicyScalar, ...], Tag("<list>")],
    Discriminator(_policy_value_tag),
]

# Verification check groups (orchestrator.verify names its checks "<group>.<name>").
CHECK_GROUPS = ("discovery", "client", "idle", "forged", "bypass", "gateway")

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]
