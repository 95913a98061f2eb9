"""Where a vendored spec is stricter than Azure, and Azure's own published example shows it.

Where it sits: under ``emulator.contracts``; applied to a validation ``Result`` by the emulated
ARM (``emulator.arm.crud``) and by the contract tests, so that neither refuses what Azure accepts.
A correction never relaxes a rule without a source: each names the definition, the property, the
condition on the object that holds it, and the published evidence.

* ``BackendContractProperties.url`` / ``.protocol`` (APIM 2024-05-01, ``definitions.json``) are
  ``required``, yet the example Azure publishes for that very operation,
  ``examples/ApiManagementCreateBackendWithPriorityBasedLoadBalancer.json``, creates a
  ``type: Pool`` backend without either and Azure answers 201 with ``"url": null, "protocol":
  null``; the later spec revisions describe both as "Required when backend type is 'Single'"
  (the change is recorded at https://azureapichanges.com/archive/changes/a71c94-preview-2023-09-01-microsoft.apimanagement.html:
  ``url`` / ``protocol`` Required: new false, old true).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.contracts.schema import Problem, Result


@dataclass(frozen=True, slots=True)
class Correction:
    definition: str  # the definition whose rule is corrected
    properties: frozenset[str]
    kind: str  # the Problem kind it lifts (``missing``)
    applies: Callable[[dict[str, Any]], bool]  # on the object that holds the property
    source: str


def _pool(holder: dict[str, Any]) -> bool:
    return str(holder.get("type") or "").lower() == "pool"


CORRECTIONS: tuple[Correction, ...] = (
    Correction(
        "BackendContractProperties",
        frozenset({"url", "protocol"}),
        "missing",
        _pool,
        "examples/ApiManagementCreateBackendWithPriorityBasedLoadBalancer.json (APIM 2024-05-01)",
    ),
)


def _holder(body: Any, path: str) -> dict[str, Any] | None:
    """The object that holds the property at ``path`` (``properties.url`` -> ``body["properties"]``)."""
    node = body
    for part in [p for p in path.split(".")[:-1] if p]:
        name, _, index = part.partition("[")
        if not isinstance(node, dict):
            return None
        node = node.get(name)
        if index:
            try:
                node = node[int(index.rstrip("]"))] if isinstance(node, list) else None
            except (IndexError, ValueError):
                return None
    return node if isinstance(node, dict) else None


def corrected(problem: Problem, body: Any) -> bool:
    """``True`` when a correction lifts this problem for this body."""
    name = problem.path.rsplit(".", 1)[-1]
    for c in CORRECTIONS:
        if problem.definition == c.definition and problem.kind == c.kind and name in c.properties:
            holder = _holder(body, problem.path)
            if holder is not None and c.applies(holder):
                return True
    return False


def apply(result: Result, body: Any) -> Result:
    """``result`` without the problems a correction lifts."""
    kept = tuple(p for p in result.problems if not corrected(p, body))
    return Result(kept, result.unchecked)
