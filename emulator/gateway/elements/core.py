"""The ground floor of the policy elements: ``Step``, the element registry, ``Compiler``.

``element(name, sections)`` registers a builder: it checks an element's attributes and
children (refusing what the gateway cannot run, naming it and its line) and returns a
``Step`` with ``async run(rt)``. ``BUILDERS`` maps an element name to its builder and
``SECTIONS`` says where it may appear; the family modules of this package fill both when
``emulator.gateway.elements`` is imported. ``Runtime`` is what a step may touch of the
per-request state (``engine.Runtime`` implements it); ``run_steps`` runs a section.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from lxml import etree

from emulator.gateway.errors import PolicyCompileError, PolicyFailure, ReturnResponse
from emulator.gateway.source import TagSource, Where
from emulator.gateway.values import Val, make_val

if TYPE_CHECKING:
    from emulator.gateway.expr.context import Context, Headers
    from emulator.gateway.llm import Usage
    from emulator.gateway.services import Services

# hop-by-hop headers (RFC 9110 section 7.6.1): never passed on by forward-request or send-request
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection"}
)  # fmt: skip


class Runtime(Protocol):
    """The per-request state the steps act on (implemented by ``engine.Runtime``)."""

    ctx: Context
    services: Services
    section: str  # inbound | backend | outbound | on-error: the section running
    backend_path: str
    preflight: bool
    cors_headers: list[tuple[str, str]]
    extra_response_headers: list[tuple[str, str]]
    usage_watchers: list[Callable[[Usage], None]]
    # run once the response has been sent (quotas count calls and bandwidth then), with the
    # bytes of the response body sent
    completion: list[Callable[[int], None]]

    def llm_request(self) -> tuple[bool, int]: ...

    def headers_for(self, target: str) -> Headers: ...

    async def set_body(self, target: str, data: bytes) -> None: ...

    def set_backend_url(self, url: str) -> None: ...

    def backend_url(self) -> str: ...

    def error_response(self, code: int, message: str) -> None: ...

    def trace(self, source: str, severity: str, message: str, metadata: dict[str, str]) -> None: ...

    async def close_backend(self) -> None: ...

    async def forward(
        self, timeout_s: float, buffer_response: bool, follow_redirects: bool, fail_on_error: bool
    ) -> None: ...


class Step:
    """A compiled policy element."""

    name = "?"
    line = 0
    column = 0
    uses_request_body = False
    uses_response_body = False
    forwards = False  # forward-request: a retry around it resends the (buffered) request body
    scope = ""  # global | product | api | operation: set by ``policy.compose`` (traces, LastError)

    async def run(self, rt: Runtime) -> None:
        raise NotImplementedError

    def nested(self) -> Sequence[Sequence[Step]]:
        """The step lists this element runs (``choose`` branches, ``retry`` children)."""
        return ()


Builder = Callable[["Compiler", etree._Element], Step]
ALL = frozenset({"inbound", "backend", "outbound", "on-error"})
SECTIONS: dict[str, frozenset[str]] = {}
BUILDERS: dict[str, Builder] = {}
# elements of APIM's policy reference the local gateway cannot run, and why (``elements.refused``);
# a family that implements one registers a builder, which takes precedence
REFUSED: dict[str, str] = {}


def element(name: str, sections: frozenset[str] = ALL) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        BUILDERS[name] = fn
        SECTIONS[name] = sections
        return fn

    return register


class Compiler:
    """Compiles the children of a section (and nested elements) to steps."""

    def __init__(
        self,
        fragments: dict[str, etree._Element] | None = None,
        section: str = "inbound",
        positions: Mapping[etree._Element, TagSource] | None = None,
    ) -> None:
        self.fragments = fragments or {}
        self.section = section
        self.fragment_depth = 0
        self.skip_fragments = False  # PUT-time checks: fragments are checked when they are stored
        # where the document is stored (global | product | api | operation); "" when unknown
        # (a fragment, a document compiled to run): scope rules are checked only when known
        self.scope = ""
        self.seen: set[str] = set()  # elements allowed once per policy definition, already met
        # where each element sits in the document as written (``source``); lxml's line otherwise
        self.positions: Mapping[etree._Element, TagSource] = positions or {}

    def position(self, el: etree._Element) -> tuple[int, int]:
        t = self.positions.get(el)
        return (t.line, t.column) if t is not None else (line_of(el), 0)

    def where(self, el: etree._Element, attr: str | None = None) -> Where:
        """Where an attribute value (or, without ``attr``, the element's text) starts."""
        t = self.positions.get(el)
        if t is None:
            return Where(line_of(el), 0)
        span = t.attrs.get(attr) if attr is not None else t.text
        if span is None:
            return Where(t.line, t.column)
        line, column = span.position(0)
        return Where(line, column, span)

    def in_scope(self, el: etree._Element, scopes: Sequence[str]) -> None:
        """Refuse an element stored at a scope its reference page does not list ("Policy
        scopes" of each Learn page), in APIM's words (as quoted in MicrosoftDocs/azure-docs#17825:
        "Error in element 'rate-limit' on line 4, column 10: Policy is not allowed in the
        specified scope")."""
        if self.scope and self.scope not in scopes:
            raise self.fail(el, "Policy is not allowed in the specified scope")

    def fail(self, el: etree._Element, message: str) -> PolicyCompileError:
        line, column = self.position(el)
        return PolicyCompileError(tag(el), line, message, column)

    def fail_at(self, el: etree._Element, attr: str, message: str) -> PolicyCompileError:
        """A refusal about an attribute's value: its line and column, the element's name."""
        where = self.where(el, attr)
        return PolicyCompileError(tag(el), where.line, message, where.column)

    def attrs(self, el: etree._Element, allowed: Sequence[str], required: Sequence[str] = ()) -> None:
        for name in map(str, el.attrib):
            if name not in allowed:
                raise self.fail(
                    el, f"The attribute '{name}' is not supported by the local gateway (or is unknown)."
                )
        for name in required:
            if name not in el.attrib:
                raise self.fail(el, f"'{name}' attribute is required.")

    def val(self, el: etree._Element, name: str, default: str | None = None, expr: bool = True) -> Val | None:
        raw = el.get(name)
        if raw is None:
            return None if default is None else Val(default, None, tag(el), line_of(el))
        return make_val(raw, tag(el), self.where(el, name), allow_expression=expr)

    def req(self, el: etree._Element, name: str, expr: bool = True) -> Val:
        v = self.val(el, name, expr=expr)
        if v is None:
            raise self.fail(el, f"'{name}' attribute is required.")
        return v

    def choice(self, el: etree._Element, name: str, options: Sequence[str], default: str) -> str:
        value = el.get(name, default)
        if value not in options:
            raise self.fail(
                el,
                f"The value '{value}' of attribute '{name}' is not valid. Allowed values: {', '.join(options)}.",
            )
        return value

    def flag(self, el: etree._Element, name: str, default: bool) -> bool:
        value = el.get(name)
        if value is None:
            return default
        if value.strip().lower() not in ("true", "false"):
            raise self.fail(el, f"The value '{value}' of attribute '{name}' must be 'true' or 'false'.")
        return value.strip().lower() == "true"

    def number(self, el: etree._Element, name: str, default: int | None = None) -> int | None:
        value = el.get(name)
        if value is None:
            return default
        try:
            return int(value.strip())
        except ValueError:
            raise self.fail(el, f"The value '{value}' of attribute '{name}' must be an integer.") from None

    def status(self, el: etree._Element, name: str, default: int) -> int:
        value = self.number(el, name, default)
        assert value is not None
        if not 100 <= value <= 599:
            raise self.fail(
                el, f"The value '{value}' of attribute '{name}' is not a valid HTTP status code (100-599)."
            )
        return value

    def text(self, el: etree._Element) -> Val:
        if len(el):
            raise self.fail(el, f"'{tag(el)}' cannot contain child elements.")
        return make_val(el.text or "", tag(el), self.where(el))

    def kids(self, el: etree._Element, allowed: Sequence[str]) -> list[etree._Element]:
        out = []
        for child in el:
            if not is_element(child):
                continue
            if tag(child) not in allowed:
                raise self.fail(child, f"The element '{tag(child)}' is not valid inside '{tag(el)}'.")
            out.append(child)
        if el.text and el.text.strip():
            raise self.fail(el, f"'{tag(el)}' cannot contain text.")
        return out

    def steps(self, parent: etree._Element) -> list[Step]:
        out: list[Step] = []
        for child in parent:
            if not is_element(child):
                continue  # comments / processing instructions
            out.extend(self.step(child))
        if parent.text and parent.text.strip():
            raise self.fail(parent, f"Unexpected text inside '{tag(parent)}'.")
        return out

    def step(self, el: etree._Element) -> list[Step]:
        name = tag(el)
        if name == "include-fragment":
            return self.include(el)
        builder = BUILDERS.get(name)
        if builder is None and name in REFUSED:
            raise self.fail(el, f"The policy '{name}' cannot run in the local gateway: {REFUSED[name]}.")
        if builder is None:
            raise self.fail(
                el,
                f"Unknown policy '{name}': it is not in API Management's policy reference (docs/policies.md).",
            )
        if self.section != "*" and self.section not in SECTIONS[name]:
            raise self.fail(el, f"Policy is not allowed in this section ('{self.section}').")
        s = builder(self, el)
        s.name = name
        s.line, s.column = self.position(el)
        return [s]

    def include(self, el: etree._Element) -> list[Step]:
        self.attrs(el, ("fragment-id",), ("fragment-id",))
        fid = el.get("fragment-id", "")
        if self.skip_fragments:
            return []
        frag = self.fragments.get(fid.lower())
        if frag is None:
            raise self.fail(el, f"Policy fragment '{fid}' does not exist.")
        if self.fragment_depth > 8:
            raise self.fail(el, "Policy fragments are nested too deeply.")
        self.fragment_depth += 1
        try:
            if frag.tag != "fragment":
                raise self.fail(el, f"Policy fragment '{fid}' is not a 'fragment' element.")
            return self.steps(frag)
        except PolicyCompileError as exc:
            raise PolicyCompileError(
                exc.element, exc.line, f"{exc.message} (in policy fragment '{fid}')", exc.column
            ) from exc
        finally:
            self.fragment_depth -= 1


def line_of(el: etree._Element) -> int:
    """The element's line in the policy document (lxml's stubs type it loosely)."""
    value: Any = getattr(el, "sourceline", 0)
    return int(value) if isinstance(value, int) else 0


def is_element(el: etree._Element) -> bool:
    """False for comments and processing instructions (their ``tag`` is not a string)."""
    value: Any = getattr(el, "tag", None)
    return isinstance(value, str)


def tag(el: etree._Element) -> str:
    t = el.tag
    return t if isinstance(t, str) else "?"


def body_flags(step: Step, vals: Sequence[Val | None], children: Sequence[Step] = ()) -> None:
    step.uses_request_body = any(v is not None and v.uses_request_body for v in vals) or any(
        c.uses_request_body for c in children
    )
    step.uses_response_body = any(v is not None and v.uses_response_body for v in vals) or any(
        c.uses_response_body for c in children
    )


async def run_steps(steps: Sequence[Step], rt: Runtime) -> None:
    recorder = getattr(rt, "recorder", None)
    if recorder is not None:
        # a traced request (``emulator.gateway.tracing``): the same run, each element recorded
        for s in steps:
            await _run_traced(s, rt, recorder)
        return
    for s in steps:  # ``_run_one`` inlined: one coroutine less per element of every request
        try:
            await s.run(rt)
        except PolicyFailure as failure:
            if not failure.scope:  # nested steps have no scope: the top-level one names it
                failure.scope = s.scope
            raise
        except ReturnResponse:
            raise
        except Exception as exc:
            raise PolicyFailure(
                s.name, "PolicyExecutionError", f"The policy failed ({type(exc).__name__})."
            ) from exc


async def _run_one(s: Step, rt: Runtime) -> None:
    try:
        await s.run(rt)
    except PolicyFailure as failure:
        if not failure.scope:  # nested steps have no scope: the top-level one names it
            failure.scope = s.scope
        raise
    except ReturnResponse:
        raise
    except Exception as exc:
        # a gateway bug must become APIM's error flow (LastError, on-error, 500), never a crash
        raise PolicyFailure(
            s.name, "PolicyExecutionError", f"The policy failed ({type(exc).__name__})."
        ) from exc


def _variables(rt: Runtime) -> dict[str, Any]:
    return dict(rt.ctx.Variables._items.values())


def _changed(before: Mapping[str, Any], rt: Runtime) -> dict[str, Any]:
    """The context variables an element set or changed."""
    after = _variables(rt)
    return {k: v for k, v in after.items() if k not in before or before[k] is not v}


async def _run_traced(s: Step, rt: Runtime, recorder: Any) -> None:
    """Run one element and record it: its scope (global/api/operation: ``policy.compose`` tags the
    top-level steps; nested ones inherit), section, decision, the variables it set, its timing."""
    outer_scope, outer_depth = getattr(rt, "trace_scope", "global"), getattr(rt, "trace_depth", 0)
    scope = getattr(s, "scope", None) or outer_scope
    before = _variables(rt)
    entry = recorder.begin(scope=scope, section=rt.section, name=s.name, line=s.line, depth=outer_depth)
    rt.trace_scope, rt.trace_depth = scope, outer_depth + 1  # type: ignore[attr-defined]
    try:
        await _run_one(s, rt)
    except PolicyFailure as failure:
        recorder.end(entry, recorder.refusal(failure.reason, failure.message), _changed(before, rt))
        raise
    except ReturnResponse:
        recorder.end(entry, f"returned {rt.ctx.Response.StatusCode}", _changed(before, rt))
        raise
    finally:
        rt.trace_scope, rt.trace_depth = outer_scope, outer_depth  # type: ignore[attr-defined]
    recorder.end(entry, "ok", _changed(before, rt))
