"""Every policy of a lab, rendered: spec values -> template variables -> XML (pure).

Where it sits: between the spec (``orchestrator.spec``: ``Policy{template, variables}`` on APIs
and operations) and :func:`render_policy`. The reconcile engine and ``prmlab render`` share it;
they differ only in ``resolve``, the function that turns a reference into its value:

* the engine passes the values of resources that exist (``orchestrator.spec.refs.resolve``
  over the outputs read or applied so far);
* ``prmlab render`` passes :func:`static_resolver`, which knows only what lab.yaml itself says.

A value not known yet (``None`` or ``UNKNOWN`` from ``resolve``) renders as
``(known after apply)``. Named-value tokens (``{named_value: key}``) become
:class:`NamedValueRef` of the named value's APIM name (its ``display_name``, else its key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator import clouds, urls
from orchestrator.errors import RenderError
from orchestrator.render.policy import render_policy
from orchestrator.render.values import NamedValueRef
from orchestrator.resource import UNKNOWN
from orchestrator.spec.values import NamedValueToken, Ref

if TYPE_CHECKING:
    from orchestrator.spec.models import Lab, Policy

Resolver = Callable[[Ref], object | None]


@dataclass(frozen=True, slots=True)
class LabPolicy:
    """One policy of the lab and where it is written (``address`` is its lab.yaml path)."""

    address: str
    api: str
    operation: str | None
    policy: Policy

    @property
    def yaml_path(self) -> tuple[str, ...]:
        if self.operation is None:
            return ("apim", "apis", self.api, "policy")
        return ("apim", "apis", self.api, "operations", self.operation, "policy")


def lab_policies(lab: Lab) -> list[LabPolicy]:
    """API-level then operation-level policies, in lab.yaml order."""
    found: list[LabPolicy] = []
    for api_key, api in lab.apim.apis.items():
        if api.policy is not None:
            found.append(LabPolicy(f"apim.apis.{api_key}.policy", api_key, None, api.policy))
        for op_key, operation in api.operations.items():
            if operation.policy is not None:
                address = f"apim.apis.{api_key}.operations.{op_key}.policy"
                found.append(LabPolicy(address, api_key, op_key, operation.policy))
    return found


def named_value_names(lab: Lab) -> dict[str, str]:
    """``{named_values key: APIM name}``: the name ``{{...}}`` references (display_name, else the key)."""
    return {key: nv.display_name or key for key, nv in lab.apim.named_values.items()}


def named_value_name(lab: Lab, key: str) -> str:
    """The APIM name of the named value declared under ``key``."""
    names = named_value_names(lab)
    if key not in names:
        raise RenderError(
            f"unknown named value '{key}' (apim.named_values defines: {', '.join(sorted(names)) or 'none'})"
        )
    return names[key]


def convert_variables(
    variables: Mapping[str, Any],
    resolve: Resolver | None = None,
    named_values: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """Spec policy variables -> template variables (what :func:`render_policy` takes).

    Accepts the spec's objects or their dumped form: a named-value token (``NamedValueToken`` or
    ``{"named_value": key}``) becomes ``NamedValueRef(named_values[key])`` (the key itself when
    ``named_values`` is not given); a reference (``Ref`` or ``{"ref", "suffix"}``) becomes
    ``resolve(ref)`` (``None`` -> ``UNKNOWN``); values already resolved pass unchanged.
    """

    def name_of(key: str) -> str:
        if named_values is None:
            return key
        if key not in named_values:
            known = ", ".join(sorted(named_values)) or "none"
            raise RenderError(f"unknown named value '{key}' (apim.named_values defines: {known})")
        return named_values[key]

    def convert(value: Any) -> object:
        if isinstance(value, NamedValueToken):
            return NamedValueRef(name_of(value.named_value))
        if isinstance(value, Mapping) and set(value) == {"named_value"}:
            return NamedValueRef(name_of(str(value["named_value"])))
        if isinstance(value, Mapping) and "ref" in value and set(value) <= {"ref", "suffix"}:
            value = Ref(ref=str(value["ref"]), suffix=str(value.get("suffix") or ""))
        if isinstance(value, Ref):
            if resolve is None:
                raise RenderError(f"reference {value.ref} is not resolved")
            resolved = resolve(value)
            return UNKNOWN if resolved is None else resolved
        if isinstance(value, list | tuple):
            return [convert(item) for item in value]
        return value

    return {name: convert(value) for name, value in variables.items()}


def policy_variables(lab: Lab, policy: Policy, resolve: Resolver) -> dict[str, object]:
    """The template variables of ``policy``: references resolved, named-value tokens converted."""
    return convert_variables(policy.variables, resolve, named_value_names(lab))


def render_lab_policy(lab: Lab, item: LabPolicy, resolve: Resolver) -> str:
    """Render one policy; a ``RenderError`` names its lab.yaml address."""
    try:
        return render_policy(item.policy.template, policy_variables(lab, item.policy, resolve))
    except RenderError as exc:
        raise RenderError(f"{item.address}: {exc.message}") from exc


def render_lab_policies(lab: Lab, resolve: Resolver) -> dict[str, str]:
    """``{policy address: XML}`` for every policy of the lab (address = its lab.yaml path)."""
    return {item.address: render_lab_policy(lab, item, resolve) for item in lab_policies(lab)}


def static_target_outputs(lab: Lab) -> dict[str, object]:
    """What lab.yaml alone says about the target (azure: tenant, subscription, Entra issuer)."""
    target = lab.target
    if target.kind == "azure":
        tenant = str(target.tenant_id)
        return {
            "tenant_id": tenant,
            "subscription_id": str(target.subscription_id),
            "issuer": urls.issuer(clouds.cloud(target.cloud).authority, tenant),
        }
    return {}  # local: the emulator chooses tenant and subscription when it starts


def static_resolver(lab: Lab) -> Resolver:
    """Resolve references before anything exists: only what lab.yaml itself determines."""
    from orchestrator.spec.refs import resolve

    target = static_target_outputs(lab)
    no_outputs: Mapping[str, Mapping[str, Any]] = {}

    def resolve_static(ref: Ref) -> object | None:
        value: object = resolve(ref, lab, no_outputs, target)
        return value

    return resolve_static


def iter_unknown(variables: Mapping[str, object]) -> Iterator[str]:
    """Names of the variables whose value (or an item of it) is known only after apply."""
    for name, value in variables.items():
        items = value if isinstance(value, list) else [value]
        if any(item is UNKNOWN for item in items):
            yield name
