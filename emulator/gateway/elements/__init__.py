"""Policy elements of the local gateway: how each is compiled (checked) and run.

``core`` holds ``Step``, the registry (``element``, ``BUILDERS``, ``SECTIONS``), ``Compiler``,
``run_steps`` and the ``Runtime`` protocol the steps act on. The families register their
elements when imported here: ``flow`` (base, choose, set-variable, trace), ``message``
(set-status, set-header, set-body, set-query-parameter, set-method, return-response,
mock-response), ``routing`` (set-backend-service, rewrite-uri, forward-request, send-request),
``access`` (check-header, cors), ``limits`` (cache-*-value, rate-limit-by-key, rate-limit), ``quota``
(quota, quota-by-key), ``identity``
(validate-jwt, validate-azure-ad-token, authentication-managed-identity, authentication-basic),
``convert`` (jsonp), ``ai`` (llm-/azure-openai- token limits and token metrics); ``refused`` names the elements of APIM's reference that cannot run here,
with the reason. ``flow`` also has ``retry``; ``message`` has ``find-and-replace``.
docs/policies.md lists every element and the attributes honoured here.
"""

from __future__ import annotations

from emulator.gateway.elements import (
    access,
    ai,
    convert,
    flow,
    identity,
    limits,
    message,
    quota,
    refused,
    routing,
)
from emulator.gateway.elements.access import CorsStep
from emulator.gateway.elements.core import (
    BUILDERS,
    REFUSED,
    SECTIONS,
    Compiler,
    Runtime,
    Step,
    is_element,
    line_of,
    run_steps,
    tag,
)
from emulator.gateway.elements.flow import BaseStep, ChooseStep

FAMILIES = (flow, message, routing, access, limits, quota, identity, convert, ai, refused)

__all__ = [
    "BUILDERS",
    "FAMILIES",
    "REFUSED",
    "SECTIONS",
    "BaseStep",
    "ChooseStep",
    "Compiler",
    "CorsStep",
    "Runtime",
    "Step",
    "is_element",
    "line_of",
    "run_steps",
    "tag",
]
