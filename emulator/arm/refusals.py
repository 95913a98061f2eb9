"""How each resource provider words its refusal of a request body that breaks the contract.

Where it sits: ``emulator.arm.crud`` (and the resource-group route of ``emulator.arm.router``)
validate a write's body against the vendored operation of its api-version
(``emulator.contracts.schema``, Azure's rules: required, closed enums, JSON types) and raise the
``ArmError`` built here from the problems found. Pure: no I/O.

What each provider answers (status 400 throughout):

* API Management: ``ValidationError`` "One or more fields contain incorrect values:" with one
  ``details`` entry per property (``target`` = the property name), as APIM answers its own
  validation failures.
* Storage: a storage account's ``sku`` / ``kind`` -> ``InvalidValuesForRequestParameters``
  "Values for request parameters are invalid: kind, sku. For more information, see -
  https://aka.ms/storageaccounttypes" (verbatim in hashicorp/terraform-provider-azurerm#8089 and
  Azure/terraform-azurerm-avm-res-storage-storageaccount#336); a value of a property ->
  ``InvalidRequestPropertyValue`` "The value 'Hot' is not allowed for property accessTier."
  (Azure/ResourceModules#535, Azure/azure-cli#25748).
* Every other provider: not documented per provider, so ARM's generic deserialization refusal
  ``InvalidRequestContent`` "The request content was invalid and could not be deserialized: ..."
  (ARM's wording, e.g. Azure/azure-cli#31885) with the .NET serializer's sentence naming the
  property path: "Error converting value ... to type '...'. Path '...'." / "Required property
  '...' not found in JSON. Path '...'."; Microsoft.App's serializer words a type error as
  "The JSON value could not be converted to System.Boolean. Path: $ | ..." (quoted in
  Azure/azure-cli-extensions#5756), its refusals use that sentence. Every refusal carries one
  ``details`` entry per problem (``code``, ``target`` = the property path, ``message``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from emulator.arm.errors import ArmError
from emulator.contracts.schema import Problem

_DOTNET = {
    "boolean": "System.Boolean",
    "integer": "System.Int32",
    "number": "System.Double",
    "string": "System.String",
    "array": "System.Collections.Generic.List`1",
    "object": "System.Collections.Generic.Dictionary`2",
}


def body_refusal(namespace: str, problems: Sequence[Problem], *, apim: bool = False) -> ArmError:
    """The refusal ``namespace``'s provider answers for ``problems`` (at least one)."""
    if apim:
        return _apim(problems)
    if namespace.lower() == "microsoft.storage":
        return _storage(problems)
    return _generic(problems, app=namespace.lower() == "microsoft.app")


def _apim(problems: Sequence[Problem]) -> ArmError:
    details = [
        {
            "code": "ValidationError",
            "target": p.path.rsplit(".", 1)[-1],
            "message": f"'{p.path}' {p.message}.",
        }
        for p in problems
    ]
    return ArmError(400, "ValidationError", "One or more fields contain incorrect values:", details)


def _storage(problems: Sequence[Problem]) -> ArmError:
    top = sorted({p.path.split(".", 1)[0].split("[", 1)[0] for p in problems} & {"sku", "kind"})
    if top:
        return ArmError(
            400,
            "InvalidValuesForRequestParameters",
            f"Values for request parameters are invalid: {', '.join(top)}. "
            "For more information, see - https://aka.ms/storageaccounttypes",
            _details("InvalidValuesForRequestParameters", problems),
        )
    valued = [p for p in problems if p.kind in ("enum", "type")]
    if valued:
        first = valued[0]
        return ArmError(
            400,
            "InvalidRequestPropertyValue",
            f"The value '{_text(first.value)}' is not allowed for property {first.path.rsplit('.', 1)[-1]}.",
            _details("InvalidRequestPropertyValue", problems),
        )
    return _generic(problems, app=False)


def _generic(problems: Sequence[Problem], *, app: bool) -> ArmError:
    first = problems[0]
    return ArmError(
        400,
        "InvalidRequestContent",
        f"The request content was invalid and could not be deserialized: '{_sentence(first, app)}'",
        _details("InvalidRequestContent", problems, app),
    )


def _sentence(p: Problem, app: bool) -> str:
    parent, _, leaf = p.path.rpartition(".")
    if p.kind == "missing":
        return f"Required property '{leaf}' not found in JSON. Path '{parent}'."
    if p.kind == "type" and app:
        return (
            f"The JSON value could not be converted to {_DOTNET.get(p.expected, p.expected)}. "
            f"Path: $.{p.path} | LineNumber: 0 | BytePositionInLine: 0."
        )
    if p.kind == "type":
        return f"Error converting value {_json(p.value)} to type '{_DOTNET.get(p.expected, p.expected)}'. Path '{p.path}'."
    if p.kind == "enum":
        return f"Error converting value {_json(p.value)} to type 'enum' (allowed: {p.expected}). Path '{p.path}'."
    return f"Could not find member '{leaf}' on object. Path '{p.path}'."


def _details(code: str, problems: Sequence[Problem], app: bool = False) -> list[dict[str, Any]]:
    return [{"code": code, "target": p.path, "message": _sentence(p, app)} for p in problems]


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else _json(value)
