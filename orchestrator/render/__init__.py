"""Policy rendering: Jinja templates in ``policy_templates/`` -> APIM policy XML (pure).

Where it sits: lab.yaml policies are ``{template, variables}``; the reconcile engine resolves the
variables' references, then calls :func:`render_policy` (via :func:`render_lab_policies` for a
whole lab) to get the XML it PUTs to APIM; ``prmlab render`` prints the same XML. The spec
validator asks :func:`template_names` / :func:`template_variables` to check a policy.

Template syntax: ``[[ var ]]`` (XML-escaped), ``[% stmt %]``, ``[# comment #]``; ``{{Name}}``
is always an APIM named value, written by a :class:`NamedValueRef` variable or literally.
"""

from __future__ import annotations

from orchestrator.render.environment import (
    optional_template_variables,
    required_template_variables,
    template_names,
    template_variables,
)
from orchestrator.render.policy import named_value_references, parse_policy, render_policy
from orchestrator.render.values import KNOWN_AFTER_APPLY, NamedValueRef

__all__ = [
    "KNOWN_AFTER_APPLY",
    "NamedValueRef",
    "named_value_references",
    "optional_template_variables",
    "parse_policy",
    "render_policy",
    "required_template_variables",
    "template_names",
    "template_variables",
]
