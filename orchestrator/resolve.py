"""Reference resolution: the spec's typed references -> values from other resources' outputs.

Flow: lab.yaml says *what* a field refers to (``{ref: "<address>.<output>", suffix?}``, a
``Ref`` object of ``orchestrator.spec``); the graph turns references into edges; here, just
before a provider's pure ``desired()`` runs, every reference found in the node's spec is looked
up in the outputs of the resources already read or applied:

* the referenced resource exists (read or just created/updated) -> its output value;
* it is still to be created (plan time)                          -> ``UNKNOWN``, printed as
  ``(known after apply)``; the executor re-derives ``Desired`` once the value exists.

The one home of references: ``walk_refs`` (every reference in a spec value with its YAML path;
the graph draws its edges from it), ``resolve_refs`` (look them up), ``value_of`` /
``substitute`` (put the values in, suffix appended), ``contains_unknown`` (is anything still
``UNKNOWN``).

Pure: no I/O. References are found by shape (an object with a string ``ref`` and a ``suffix``
attribute) so this module does not depend on the spec's model classes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from orchestrator.errors import PermanentError
from orchestrator.resource import UNKNOWN, Secret
from orchestrator.spec.values import ref_parts

# address -> that resource's outputs (``Actual.outputs``), or absent when not known yet.
Outputs = Mapping[str, Mapping[str, Any]]
# Where a value is in lab.yaml: keys and list indexes (``spec.yamlsource.PathT``).
YamlPath = tuple[str | int, ...]


def is_ref(value: object) -> bool:
    return isinstance(getattr(value, "ref", None), str) and hasattr(value, "suffix")


def split_ref(ref: str) -> tuple[str, str]:
    """``"entra.apps.mcp.client_id"`` -> ``("entra.apps.mcp", "client_id")``."""
    address, output = ref_parts(ref)
    if not address or not output:
        raise ValueError(f"reference {ref!r} is not '<address>.<output>'")
    return address, output


def walk_refs(
    value: Any, path: YamlPath = (), skip: frozenset[str] = frozenset()
) -> Iterator[tuple[YamlPath, Any]]:
    """Every reference inside a spec value (pydantic models, mappings, sequences) with its YAML
    path below ``path``; ``skip`` names top-level fields of a model to leave out."""
    if is_ref(value):
        yield path, value
        return
    if isinstance(value, str | bytes | int | float | bool) or value is None:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk_refs(item, (*path, key))
        return
    if isinstance(value, list | tuple | set | frozenset):
        for i, item in enumerate(value):
            yield from walk_refs(item, (*path, i))
        return
    fields = getattr(type(value), "model_fields", None)  # pydantic v2 model
    if isinstance(fields, Mapping):
        for name in fields:
            if name not in skip:
                yield from walk_refs(getattr(value, name, None), (*path, name))


def iter_refs(value: Any) -> Iterator[Any]:
    """Every reference object inside a spec value."""
    for _, ref in walk_refs(value):
        yield ref


def referenced_addresses(spec: Any) -> frozenset[str]:
    return frozenset(split_ref(r.ref)[0] for r in iter_refs(spec))


# How one reference (its ``ref``, not its suffix) becomes a value, given the outputs known so far
# (UNKNOWN when not yet).
Resolver = Callable[[Any, Outputs], Any]


def direct_resolver(ref: Any, outputs: Outputs) -> Any:
    """Reference address == graph node address (tests; labs whose refs name nodes directly).

    A referenced resource that exists but lacks the output is a provider/spec mismatch: raised
    as ``PermanentError`` rather than silently applying a wrong value.
    """
    target, output = split_ref(ref.ref)
    known = outputs.get(target)
    if known is None:
        return UNKNOWN
    if output not in known:
        raise PermanentError(
            ref.ref, f"{target} has no output {output!r} (it has: {', '.join(sorted(known)) or 'none'})"
        )
    return known[output]


def resolve_refs(spec: Any, outputs: Outputs, resolver: Resolver = direct_resolver) -> dict[str, Any]:
    """``{"<address>.<output>": value | UNKNOWN}`` for every reference in ``spec``.

    Values are *without* the reference's ``suffix``: providers append it (``value_of`` or
    ``substitute``). The resolver must ignore ``suffix`` too.
    """
    return {ref.ref: resolver(ref, outputs) for ref in iter_refs(spec)}


def value_of(ref: Any, resolved: Mapping[str, Any]) -> Any:
    """The value a reference stands for (with its ``suffix`` appended), or ``UNKNOWN``.

    Providers call this from ``desired()``.
    """
    value = resolved.get(ref.ref, UNKNOWN)
    if value is UNKNOWN:
        return UNKNOWN
    suffix = getattr(ref, "suffix", None)
    if not suffix:
        return value
    if isinstance(value, Secret):
        return Secret(value.reveal() + suffix)
    return f"{value}{suffix}"


def _ref_of(value: Any) -> tuple[str, str] | None:
    """``(ref, suffix)`` of a reference object or of its dumped form ``{"ref": ..., "suffix": ...}``."""
    if isinstance(value, Mapping) and "ref" in value and set(value) <= {"ref", "suffix"}:
        return str(value["ref"]), str(value.get("suffix") or "")
    ref = getattr(value, "ref", None)
    if isinstance(ref, str) and not isinstance(value, Mapping | str):
        return ref, str(getattr(value, "suffix", "") or "")
    return None


def substitute(value: Any, resolved: Mapping[str, Any]) -> Any:
    """Replace every reference inside plain data ``value`` by its resolved value (+ suffix).

    A reference absent from ``resolved`` or resolved to UNKNOWN stays UNKNOWN (shown as
    ``(known after apply)``); a Secret with a suffix stays a Secret; a pydantic ``SecretStr``
    from lab.yaml becomes a ``Secret``. Mappings come back as dicts, sequences as lists.
    """
    reveal = getattr(value, "get_secret_value", None)
    if callable(reveal):  # pydantic SecretStr from lab.yaml
        return Secret(str(reveal()))
    found = _ref_of(value)
    if found is not None:
        ref, suffix = found
        target = resolved.get(ref, UNKNOWN)
        if target is UNKNOWN:
            return UNKNOWN
        if not suffix:
            return target
        if isinstance(target, Secret):
            return Secret(target.reveal() + suffix)
        return f"{target}{suffix}"
    if isinstance(value, Mapping):
        return {k: substitute(v, resolved) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [substitute(v, resolved) for v in value]
    return value


def contains_unknown(value: Any) -> bool:
    """True when a desired value still holds ``UNKNOWN`` anywhere (cannot be written yet)."""
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_unknown(v) for v in value)
    return False
