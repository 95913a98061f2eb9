"""Table entities: validation of what a client sends, the stored shape, and the JSON answered (pure).

Where it sits: ``emulator.storage.service`` parses a request body with ``parse_entity``, stores
``Entity.to_doc()`` (kind ``storage/entities``, see ``emulator.storage_names``) and answers
``render(entity, level, ...)``.

Rules, as the Table service applies them:

* ``PartitionKey`` / ``RowKey``: strings up to 1 KiB (UTF-16), without ``/ \\ # ?`` or control
  characters (U+0000–U+001F, U+007F–U+009F) -> 400 ``OutOfRangeInput``; missing -> 400
  ``PropertiesNeedValue``.
* Properties: at most 252 besides the system ones (400 ``TooManyProperties``); names up to 255
  characters (``PropertyNameTooLong``) and C#-identifier-like (``PropertyNameInvalid``); strings up
  to 32 Ki characters, binaries up to 64 KiB (``PropertyValueTooLarge``); the whole entity up to
  1 MiB (400 ``EntityTooLarge``). ``Timestamp`` and ``odata.*`` in a request are ignored; ``null``
  values are not stored.
* Types: ``Prop@odata.type`` = ``Edm.String|Int32|Int64|Double|Boolean|DateTime|Guid|Binary``;
  untyped JSON numbers are Int32 when they fit, else Double; a value that does not fit its type
  is 400 ``InvalidInput``.
* Stored values keep the wire form (Int64 as a decimal string, Binary base64, DateTime
  ``YYYY-MM-DDTHH:MM:SS[.fffffff]Z``, Double a number or ``NaN``/``Infinity``/``-Infinity``).

Answers by ``Accept`` (``application/json;odata=nometadata|minimalmetadata|fullmetadata``):
``nometadata`` has the properties only; ``minimalmetadata`` adds ``odata.metadata``,
``odata.etag`` and ``@odata.type`` for Int64, DateTime, Guid, Binary and Doubles a reader
could take for integers; ``fullmetadata`` adds ``odata.type``, ``odata.id``, ``odata.editLink``
and ``Timestamp@odata.type``. The ETag is ``W/"datetime'<url-quoted Timestamp>'"``; Timestamps
are strictly increasing (100 ns steps), so every write gets a new ETag.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from emulator.storage.errors import TableError, invalid_input

Level = Literal["nometadata", "minimalmetadata", "fullmetadata"]

MAX_PROPERTIES = 252
MAX_ENTITY_BYTES = 1024 * 1024
MAX_KEY_BYTES = 1024
MAX_STRING_CHARS = 32 * 1024
MAX_BINARY_BYTES = 64 * 1024
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_BAD_KEY = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
_PROPERTY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SYSTEM = ("PartitionKey", "RowKey", "Timestamp")
_TYPES = frozenset(
    {
        "Edm.String",
        "Edm.Int32",
        "Edm.Int64",
        "Edm.Double",
        "Edm.Boolean",
        "Edm.DateTime",
        "Edm.Guid",
        "Edm.Binary",
    }
)
_ANNOTATED = frozenset({"Edm.Int64", "Edm.DateTime", "Edm.Guid", "Edm.Binary"})
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,7}))?(Z|[+-]00:00)?$")

_clock_lock = threading.Lock()
_last_ticks = 0


def next_timestamp() -> str:
    """The current UTC time with 7 fractional digits, strictly increasing within the process."""
    global _last_ticks
    with _clock_lock:
        ticks = max(time.time_ns() // 100, _last_ticks + 1)
        _last_ticks = ticks
    seconds, frac = divmod(ticks, 10_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:07d}Z"


def etag_for(timestamp: str) -> str:
    return "W/\"datetime'" + quote(timestamp, safe="") + "'\""


@dataclass(frozen=True, slots=True)
class Entity:
    partition_key: str
    row_key: str
    timestamp: str = ""
    properties: dict[str, tuple[str, Any]] = field(default_factory=dict)  # name -> (Edm type, wire value)

    @property
    def etag(self) -> str:
        return etag_for(self.timestamp)

    def to_doc(self) -> dict[str, Any]:
        return {
            "PartitionKey": self.partition_key,
            "RowKey": self.row_key,
            "Timestamp": self.timestamp,
            "properties": {k: [t, v] for k, (t, v) in self.properties.items()},
        }

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> Entity:
        props = {str(k): (str(tv[0]), tv[1]) for k, tv in (doc.get("properties") or {}).items()}
        return Entity(str(doc["PartitionKey"]), str(doc["RowKey"]), str(doc.get("Timestamp", "")), props)

    def typed(self, name: str) -> tuple[str, Any] | None:
        """(Edm type, Python value) of a property, system ones included (for ``$filter``)."""
        if name == "PartitionKey":
            return "Edm.String", self.partition_key
        if name == "RowKey":
            return "Edm.String", self.row_key
        if name == "Timestamp":
            return "Edm.DateTime", parse_datetime(self.timestamp)
        found = self.properties.get(name)
        if found is None:
            return None
        edm, value = found
        return edm, python_value(edm, value)


def check_key(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise invalid_input(f"The '{name}' property must be a string.")
    if _BAD_KEY.search(value) or len(value.encode("utf-16-le")) > MAX_KEY_BYTES:
        raise TableError(
            400, "OutOfRangeInput", f"The '{name}' parameter of value '{value}' is out of range."
        )
    return value


def parse_datetime(text: str) -> datetime:
    m = _DATETIME.fullmatch(text)
    if m is None:
        raise ValueError(text)
    base = m.group(1) if m.group(1).count(":") == 2 else m.group(1) + ":00"
    frac = (m.group(2) or "0").ljust(7, "0")
    parsed = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return parsed.replace(microsecond=int(frac[:6]))


def _datetime_text(text: str) -> str:
    m = _DATETIME.fullmatch(text)
    if m is None:
        raise ValueError(text)
    parse_datetime(text)  # the calendar must be valid too
    base = m.group(1) if m.group(1).count(":") == 2 else m.group(1) + ":00"
    frac = (m.group(2) or "").ljust(7, "0") if m.group(2) else ""
    return f"{base}.{frac}Z" if frac and frac != "0000000" else f"{base}Z"


def python_value(edm: str, value: Any) -> Any:
    """The comparable Python value of a stored wire value."""
    if edm == "Edm.Int64":
        return int(value)
    if edm == "Edm.DateTime":
        return parse_datetime(str(value))
    if edm == "Edm.Guid":
        return str(value).lower()
    if edm == "Edm.Binary":
        return base64.b64decode(str(value))
    if edm == "Edm.Double":
        return float(value)
    return value


def _typed_value(name: str, edm: str | None, value: Any) -> tuple[str, Any]:
    """Validate one property value; returns (Edm type, wire value)."""
    bad = invalid_input(f"The value of property '{name}' is not valid for its type.")
    if edm is None:
        if isinstance(value, bool):
            return "Edm.Boolean", value
        if isinstance(value, int):
            return ("Edm.Int32", value) if _INT32[0] <= value <= _INT32[1] else ("Edm.Double", float(value))
        if isinstance(value, float):
            return "Edm.Double", value
        if isinstance(value, str):
            edm = "Edm.String"
        else:
            raise invalid_input(f"The value of property '{name}' is not a supported type.")
    if edm not in _TYPES:
        raise invalid_input(f"The type '{edm}' of property '{name}' is not supported.")
    if edm == "Edm.String":
        if not isinstance(value, str):
            raise bad
        if len(value.encode("utf-16-le")) // 2 > MAX_STRING_CHARS:
            raise _too_large()
        return edm, value
    if edm == "Edm.Boolean":
        if not isinstance(value, bool):
            raise bad
        return edm, value
    if edm == "Edm.Int32":
        if isinstance(value, bool) or not isinstance(value, int) or not _INT32[0] <= value <= _INT32[1]:
            raise bad
        return edm, value
    if edm == "Edm.Int64":
        try:
            number = int(value) if isinstance(value, str) and value.strip() == value else None
        except ValueError:
            number = None
        if number is None or not _INT64[0] <= number <= _INT64[1]:
            raise bad
        return edm, str(number)
    if edm == "Edm.Double":
        if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
            return edm, value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        return edm, float(value)
    if edm == "Edm.Guid":
        try:
            return edm, str(uuid.UUID(str(value)))
        except ValueError as exc:
            raise bad from exc
    if edm == "Edm.DateTime":
        try:
            return edm, _datetime_text(str(value))
        except ValueError as exc:
            raise bad from exc
    # Edm.Binary
    try:
        raw = base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad from exc
    if len(raw) > MAX_BINARY_BYTES:
        raise _too_large()
    return edm, base64.b64encode(raw).decode("ascii")


def _too_large() -> TableError:
    return TableError(
        400,
        "PropertyValueTooLarge",
        "The property value exceeds the maximum allowed size (64KB). If the property value is a string, "
        "it is UTF-16 encoded and the maximum number of characters should be 32K or less.",
    )


def parse_entity(raw: bytes, *, keys: tuple[str, str] | None = None) -> Entity:
    """The entity a request body describes. ``keys`` (from the URL) must match the body's, if any."""
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise invalid_input("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise invalid_input("The request body must be a JSON object.")
    types: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, value in body.items():
        if not isinstance(name, str) or name.startswith("odata."):
            continue
        if name.endswith("@odata.type"):
            if not isinstance(value, str):
                raise invalid_input(f"The type annotation '{name}' must be a string.")
            types[name[: -len("@odata.type")]] = value
        else:
            values[name] = value
    if keys is None:
        if "PartitionKey" not in values or "RowKey" not in values:
            raise TableError(
                400, "PropertiesNeedValue", "The values are not specified for all properties in the entity."
            )
        pk, rk = values["PartitionKey"], values["RowKey"]
    else:
        pk = values.get("PartitionKey", keys[0])
        rk = values.get("RowKey", keys[1])
        if (pk, rk) != keys:
            raise invalid_input(
                "The PartitionKey and RowKey in the request body do not match the request URI."
            )
    pk = check_key("PartitionKey", pk)
    rk = check_key("RowKey", rk)
    props: dict[str, tuple[str, Any]] = {}
    for name, value in values.items():
        if name in _SYSTEM or value is None:
            continue
        if len(name) > 255:
            raise TableError(
                400, "PropertyNameTooLong", "The property name exceeds the maximum allowed length (255)."
            )
        if not _PROPERTY_NAME.fullmatch(name):
            raise TableError(400, "PropertyNameInvalid", f"The property name '{name}' is invalid.")
        props[name] = _typed_value(name, types.get(name), value)
    if len(props) > MAX_PROPERTIES:
        raise TableError(
            400,
            "TooManyProperties",
            "The entity contains more properties than allowed. Each entity can include up to 252 properties "
            "to store data. Each entity also has 3 system properties.",
        )
    entity = Entity(pk, rk, "", props)
    if entity_size(entity) > MAX_ENTITY_BYTES:
        raise TableError(400, "EntityTooLarge", "The entity is larger than the maximum allowed size (1MB).")
    return entity


def entity_size(entity: Entity) -> int:
    """Bytes as the Table service counts them (names and strings UTF-16, fixed-size numbers)."""
    size = 4 + 2 * (len(entity.partition_key) + len(entity.row_key)) + 8
    for name, (edm, value) in entity.properties.items():
        size += 8 + 2 * len(name)
        if edm == "Edm.String":
            size += 4 + 2 * len(value)
        elif edm == "Edm.Binary":
            size += 4 + len(base64.b64decode(value))
        elif edm == "Edm.Guid":
            size += 16
        elif edm == "Edm.Boolean":
            size += 1
        elif edm == "Edm.Int32":
            size += 4
        else:
            size += 8
    return size


def merged(old: Entity, new: Entity) -> Entity:
    return Entity(old.partition_key, old.row_key, old.timestamp, {**old.properties, **new.properties})


def stamped(entity: Entity) -> Entity:
    return Entity(entity.partition_key, entity.row_key, next_timestamp(), entity.properties)


def key_path(table: str, pk: str, rk: str) -> str:
    """``table(PartitionKey='..',RowKey='..')`` with quotes doubled and the keys URL-encoded."""
    return (
        f"{table}(PartitionKey='{quote(pk.replace(chr(39), chr(39) * 2), safe='')}',"
        f"RowKey='{quote(rk.replace(chr(39), chr(39) * 2), safe='')}')"
    )


def _needs_double_annotation(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, float) and math.isfinite(value) and value.is_integer()
    )


def render(
    entity: Entity,
    level: Level,
    *,
    endpoint: str,
    account: str,
    table: str,
    single: bool,
    select: list[str] | None = None,
) -> dict[str, Any]:
    """The entity's JSON for ``level``; ``single`` = a point read (``/@Element`` metadata)."""
    out: dict[str, Any] = {}
    if level != "nometadata":
        if single:
            out["odata.metadata"] = f"{endpoint}$metadata#{table}/@Element"
        if level == "fullmetadata":
            out["odata.type"] = f"{account}.{table}"
            out["odata.id"] = f"{endpoint}{key_path(table, entity.partition_key, entity.row_key)}"
        out["odata.etag"] = entity.etag
        if level == "fullmetadata":
            out["odata.editLink"] = key_path(table, entity.partition_key, entity.row_key)
    wanted = set(select) if select else None

    def keep(name: str) -> bool:
        return wanted is None or name in wanted

    if keep("PartitionKey"):
        out["PartitionKey"] = entity.partition_key
    if keep("RowKey"):
        out["RowKey"] = entity.row_key
    if keep("Timestamp"):
        if level == "fullmetadata":
            out["Timestamp@odata.type"] = "Edm.DateTime"
        out["Timestamp"] = entity.timestamp
    for name, (edm, value) in entity.properties.items():
        if not keep(name):
            continue
        if level != "nometadata" and (
            edm in _ANNOTATED or (edm == "Edm.Double" and _needs_double_annotation(value))
        ):
            out[f"{name}@odata.type"] = edm
        out[name] = value
    if wanted is not None:
        for name in select or ():
            if name not in out and name not in _SYSTEM:
                out[name] = None  # a selected property the entity lacks is answered as null
    return out
