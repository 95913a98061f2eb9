"""The Jinja environment over ``policy_templates/`` and what can be learnt from a template statically.

Sits under ``policy.py`` (rendering) and is used by the spec validator (which variables does a
template take?). Template syntax — chosen so that Jinja can never be confused with APIM:

* ``[[ var ]]`` inserts a variable, XML-escaped (autoescape); ``[% stmt %]`` is a statement;
  ``[# ... #]`` a comment.
* ``{{Name}}`` is **not** Jinja here: it is passed through literally as an APIM named-value
  reference, which APIM substitutes. A ``{{ x }}`` that is not a valid named-value name is
  refused at render time (it is almost certainly a Jinja habit).
* C# policy expressions (``@(...)``, ``@{...}``) are written as-is: ``context.Variables["x"]``
  contains ``["``, never ``[[``, ``[%`` or ``[#``.

The environment is built once (cached); rendering reads templates, nothing else.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2
from jinja2 import meta, nodes

import policy_templates
from orchestrator.errors import RenderError
from orchestrator.render.filters import FILTERS
from orchestrator.render.values import finalize

TEMPLATE_SUFFIX = ".xml.j2"
# __path__, not __file__: an editable install may expose the folder as a namespace package.
TEMPLATE_DIR = Path(next(iter(policy_templates.__path__))).resolve()


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        block_start_string="[%",
        block_end_string="%]",
        variable_start_string="[[",
        variable_end_string="]]",
        comment_start_string="[#",
        comment_end_string="#]",
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    return env


def template_file(name: str) -> str:
    return name + TEMPLATE_SUFFIX


def template_names() -> list[str]:
    """Names of the available policy templates (file names without ``.xml.j2``), sorted."""
    return list(_template_names())


@functools.cache
def _template_names() -> tuple[str, ...]:
    # Read once per process, like the compiled templates (auto_reload is off).
    return tuple(sorted(p.name[: -len(TEMPLATE_SUFFIX)] for p in TEMPLATE_DIR.glob("*" + TEMPLATE_SUFFIX)))


@functools.cache
def _parsed(name: str) -> nodes.Template:
    return environment().parse(template_source(name), name=template_file(name))


@functools.cache
def template_source(name: str) -> str:
    """The text of ``policy_templates/<name>.xml.j2``; ``RenderError`` when there is none."""
    if name not in _template_names():
        known = ", ".join(_template_names())
        raise RenderError(f"policy template {name!r} does not exist (known templates: {known})")
    env = environment()
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, template_file(name))
    return source


@functools.cache
def template_variables(name: str) -> frozenset[str]:
    """Every variable the template reads (required and optional); ``RenderError`` if no such template."""
    return frozenset(meta.find_undeclared_variables(_parsed(name)))


@functools.cache
def optional_template_variables(name: str) -> frozenset[str]:
    """Variables the template tests with ``is defined``: they may be left out."""
    optional = {
        test.node.name
        for test in _parsed(name).find_all(nodes.Test)
        if test.name == "defined" and isinstance(test.node, nodes.Name)
    }
    return frozenset(optional) & template_variables(name)


def variables_of(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """(every variable, the optional ones) of a template: the lookup the spec's checks take
    (``orchestrator.spec.checks.TemplateVariables``)."""
    return template_variables(name), optional_template_variables(name)


def required_template_variables(name: str) -> frozenset[str]:
    return template_variables(name) - optional_template_variables(name)
