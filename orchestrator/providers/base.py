"""Shared helpers of the providers: ownership marks, spec data, owned-field diff, policy XML
canonicalisation, secret digests, and the read-phase memo (references: ``orchestrator.resolve``).

Everything here except ``ReadMemo`` is pure and unit-tested without network. Providers build a
``Desired`` whose ``properties`` are a flat mapping ``dotted.path -> value`` holding only what the
spec owns; ``diff_owned`` compares each such path against the same path of the actual resource,
so fields the server fills in are never drift. Keys starting with ``@`` locate a resource (parent
names, ids) and are not diffed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import anyio

from orchestrator.resolve import contains_unknown
from orchestrator.resource import UNKNOWN, FieldChange, Secret

OWNER_TAG = "prmlab-lab"
# On a resource group the lab adopted (``target.adopt_resource_group``) rather than created: the
# lab owns it from then on (``OWNER_TAG``) but never deletes it.
ADOPTED_TAG = "prmlab-adopted"
_NS = uuid.UUID("5d6c7e1c-7d2b-4b7e-9a55-1f0c2b9a7c31")  # namespace of prmlab's deterministic ids

T = TypeVar("T")


# ---------------------------------------------------------------- ownership marks


def arm_tags(lab: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """ARM tags of an owned resource: ``{"prmlab-lab": <lab>}`` plus the spec's own tags."""
    return {**(extra or {}), OWNER_TAG: lab}


def arm_owned(tags: Mapping[str, str] | None, lab: str) -> bool:
    return bool(tags) and (tags or {}).get(OWNER_TAG) == lab


def arm_owners(tags: Mapping[str, str] | None, lab: str) -> tuple[str, ...]:
    """The other lab whose mark ARM ``tags`` carry (``()``: none, or this lab's)."""
    owner = str((tags or {}).get(OWNER_TAG) or "")
    return (owner,) if owner and owner != lab else ()


def graph_owners(tags: Iterable[str] | None, lab: str) -> tuple[str, ...]:
    """The other labs whose marks a Graph object's ``tags`` carry (``graph_mark``)."""
    prefix = f"{OWNER_TAG}:"
    found = (t[len(prefix) :] for t in (tags or []) if t.startswith(prefix))
    return tuple(sorted({owner for owner in found if owner and owner != lab}))


def graph_mark(lab: str) -> str:
    """Graph application / service principal ``tags`` entry."""
    return f"{OWNER_TAG}:{lab}"


def description_mark(lab: str) -> str:
    """Mark carried in the ``description`` of APIM children that have no tags (APIs, backends,
    operations, loggers) and of role assignments."""
    return f"[{OWNER_TAG}:{lab}]"


def with_mark(description: str | None, lab: str) -> str:
    mark = description_mark(lab)
    text = (description or "").strip()
    return f"{text} {mark}".strip() if mark not in text else text


def named_value_tag(lab: str) -> str:
    """The mark of a named value (an APIM tag): APIM tags allow letters, digits, ``-`` ``_`` ``.``
    only, so no colon here."""
    return f"{OWNER_TAG}-{lab}"


def description_owned(description: str | None, lab: str) -> bool:
    return description_mark(lab) in (description or "")


def strip_mark(description: str | None) -> str:
    return re.sub(r"\s*\[" + re.escape(OWNER_TAG) + r":[^\]]*\]", "", description or "").strip()


def stable_uuid(*parts: str) -> str:
    """A deterministic UUID (scope ids, role assignment names): the same inputs, the same id."""
    return str(uuid.uuid5(_NS, "/".join(parts)))


# ---------------------------------------------------------------- secrets in values


def secret_values(value: Any) -> list[str]:
    """Every ``Secret`` inside ``value`` (revealed): for redacting target error messages."""
    if isinstance(value, Secret):
        return [value.reveal()]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in secret_values(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in secret_values(v)]
    return []


# ---------------------------------------------------------------- owned-field diff


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """Flat ``dotted.path -> value`` (skipping ``@`` keys) back into a nested body."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        if not path.startswith("@"):
            set_path(out, path, value)
    return out


def subset_equal(desired: Any, actual: Any) -> bool:
    """True when ``actual`` holds everything ``desired`` says; keys only the server sets are
    ignored (mappings compare desired keys only, lists element by element, same length)."""
    if isinstance(desired, Secret) or isinstance(actual, Secret):
        return bool(desired == actual)
    if isinstance(desired, Mapping):
        if not isinstance(actual, Mapping):
            return not desired and actual is None
        return all(subset_equal(v, actual.get(k)) for k, v in desired.items())
    if isinstance(desired, list | tuple):
        if actual is None:
            return len(desired) == 0
        if not isinstance(actual, list | tuple) or len(actual) != len(desired):
            return False
        return all(subset_equal(d, a) for d, a in zip(desired, actual, strict=True))
    if isinstance(desired, str) and isinstance(actual, str):
        if desired.lower().startswith("/subscriptions/"):  # ARM ids are case-insensitive
            return desired.lower() == actual.lower()
        return desired == actual
    if isinstance(desired, bool) or isinstance(actual, bool):
        return desired is actual or (desired is False and actual is None)
    if isinstance(desired, int | float) and isinstance(actual, int | float):
        return float(desired) == float(actual)
    if desired is None:
        return True
    return bool(desired == actual)


Comparator = Callable[[Any, Any], bool]


def diff_owned(
    desired: Mapping[str, Any],
    actual: Mapping[str, Any],
    *,
    compare: Mapping[str, Comparator] | None = None,
    replace: Iterable[str] = (),
) -> tuple[FieldChange, ...]:
    """Field changes for every non-``@`` path of ``desired`` that ``actual`` does not match.

    UNKNOWN desired values are reported as changes (``(known after apply)``); ``compare`` gives
    per-path comparators (policy XML, secret digests); paths in ``replace`` force replacement.
    """
    compare = compare or {}
    forces = set(replace)
    changes: list[FieldChange] = []
    for path in sorted(desired):
        if path.startswith("@"):
            continue
        want = desired[path]
        have = actual.get(path)
        if contains_unknown(want):
            changes.append(FieldChange(path, have, UNKNOWN, path in forces))
            continue
        equal = compare.get(path, subset_equal)
        if not equal(want, have):
            changes.append(FieldChange(path, have, want, path in forces))
    return tuple(changes)


# ---------------------------------------------------------------- policy XML


def canonical_xml(xml: str | None) -> str:
    """A canonical form of a policy document: attribute order, insignificant whitespace (runs
    of it in element text and attribute values), self-closing vs empty elements and character
    references do not matter; comments are kept.

    Unparseable text is returned stripped so that it simply compares unequal.
    """
    from lxml import etree

    if xml is None:
        return ""
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(xml.strip().encode(), parser)
    except etree.XMLSyntaxError:
        return " ".join(xml.split())
    for el in root.iter():
        if el.text is not None:
            el.text = " ".join(el.text.split()) or None
        if el.tail is not None:
            el.tail = " ".join(el.tail.split()) or None
        # Attribute values too: the parser folds a newline written inside an attribute to a
        # space (XML 1.0 section 3.3.3) but keeps one written as ``&#10;``, and APIM keeps a
        # multi-line ``@{ ... }`` value's newlines, which its rawxml answer (and the emulator's,
        # emulator/gateway/source.py) spells ``&#10;``. Compared raw, the template as rendered
        # never equalled the policy as stored: labs/gateway.yaml planned its two policies again
        # after every reconcile. Runs of whitespace are layout here as in element text.
        for name, value in el.attrib.items():
            el.set(name, " ".join(str(value).split()))
    # Exclusive C14N sorts attributes and writes empty elements as start/end pairs.
    return etree.tostring(root, method="c14n").decode()


def xml_equal(desired: Any, actual: Any) -> bool:
    if not isinstance(desired, str) or not isinstance(actual, str):
        return bool(desired == actual)
    return canonical_xml(desired) == canonical_xml(actual)


# ---------------------------------------------------------------- secret digests

DIGEST_PREFIX = "prmlab-sha256-"


def secret_digest_tag(value: str, salt: str | None = None) -> str:
    """An APIM tag that lets a later run tell whether a secret changed without reading it:
    ``prmlab-sha256-<salt>-<hmac>`` (salted, truncated; the value itself is never stored)."""
    salt = salt or secrets.token_hex(4)
    mac = hmac.new(salt.encode(), value.encode(), hashlib.sha256).hexdigest()[:24]
    return f"{DIGEST_PREFIX}{salt}-{mac}"


def digest_matches(tag: str | None, value: str) -> bool:
    if not tag or not tag.startswith(DIGEST_PREFIX):
        return False
    salt = tag[len(DIGEST_PREFIX) :].split("-", 1)[0]
    return hmac.compare_digest(secret_digest_tag(value, salt), tag)


def find_digest(tags: Iterable[str] | None) -> str | None:
    return next((t for t in tags or () if t.startswith(DIGEST_PREFIX)), None)


# ---------------------------------------------------------------- SDK model -> wire dict


def wire(model: Any) -> dict[str, Any]:
    """An SDK model (azure-core msrest model) as the REST JSON shape (camelCase, nested)."""
    if model is None:
        return {}
    as_dict = getattr(model, "as_dict", None)
    if isinstance(model, Mapping) and callable(as_dict):  # azure-mgmt-resource (typespec) models
        return json.loads(json.dumps(as_dict(), default=str))  # type: ignore[no-any-return]
    if isinstance(model, Mapping):
        return dict(model)
    data = model.serialize(keep_readonly=True)
    return json.loads(json.dumps(data, default=str))  # type: ignore[no-any-return]


def json_body(body: Mapping[str, Any]) -> Any:
    """A request body the mgmt SDK sends as-is (``IO[bytes]``): the REST shape we mean, including
    fields the SDK's models do not know yet (APIM ``type: mcp``)."""
    import io

    return io.BytesIO(json.dumps(body, default=_reveal).encode())


def _reveal(value: Any) -> Any:
    if isinstance(value, Secret):
        return value.reveal()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# ---------------------------------------------------------------- read-phase memo


class ReadMemo:
    """Memoises list calls shared by several providers within a read phase (the generic ARM
    resource list serves seven kinds; the API list serves APIs, operations and policies). One
    lock per key: different lists load concurrently, the same list loads once. Any write
    through a provider clears it."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._locks: dict[str, anyio.Lock] = {}

    async def get(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            if key not in self._values:
                self._values[key] = await load()
            value: T = self._values[key]
            return value

    def clear(self) -> None:
        self._values.clear()
