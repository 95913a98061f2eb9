"""Names shared by the storage ARM types and the Table data plane (pure, ground floor).

Where it sits: ``emulator.arm.storage`` validates names and writes ``primaryEndpoints`` with
these helpers; ``emulator.storage.service`` parses request paths with the same URL shape. The
store kinds of the ARM documents are here too (the data plane reads them from the store).

URL shape (path-style, like Azurite, on the emulator's main HTTPS port):
``<base>/storage/<account>/<service>/`` — e.g. ``https://127.0.0.1:<port>/storage/labstore/table/``.
The ``azure-data-tables`` SDK takes it as an endpoint (host + path; a token credential needs
HTTPS, which the emulator serves).
"""

from __future__ import annotations

import re

ACCOUNTS = "microsoft.storage/storageaccounts"
TABLES = "microsoft.storage/storageaccounts/tableservices/tables"
ENTITIES = "storage/entities"  # data-plane rows, key = "<table key>/<json [pk, rk]>", parent = table key
PATH_PREFIX = "/storage"

_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_TABLE_CHARS = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_RESERVED_TABLES = frozenset({"tables"})


def service_endpoint(base_url: str, account: str, service: str) -> str:
    """``https://127.0.0.1:<port>/storage/<account>/<service>/`` (trailing slash, as Azure's)."""
    return f"{base_url}{PATH_PREFIX}/{account}/{service}/"


def table_endpoint(base_url: str, account: str) -> str:
    return service_endpoint(base_url, account, "table")


def account_name_error(name: str) -> str | None:
    """Azure's ``AccountNameInvalid`` text, or None for a valid name."""
    if _ACCOUNT.fullmatch(name):
        return None
    return (
        f"{name} is not a valid storage account name. Storage account name must be between 3 and 24 "
        "characters in length and use numbers and lower-case letters only."
    )


def table_name_error(name: str) -> tuple[str, str] | None:
    """(code, message) as the Table service answers a bad table name, or None."""
    if not _TABLE_CHARS.fullmatch(name) or name.lower() in _RESERVED_TABLES:
        return "InvalidResourceName", "The specified resource name contains invalid characters."
    if not 3 <= len(name) <= 63:
        return "OutOfRangeInput", "The specified resource name length is not within the permissible limits."
    return None


def table_key(account_key: str, table: str) -> str:
    """Store key of a table under an account (lower-case ARM id)."""
    return f"{account_key}/tableservices/default/tables/{table.lower()}"
