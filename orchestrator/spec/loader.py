"""``load_lab``: lab.yaml -> a validated ``Lab``, or a ``SpecError`` listing every problem.

The front door of the spec. Flow: read the file; parse YAML keeping marks and interpolating
``${VAR}`` (``yamlsource``); validate the models (``models``; errors located by ``issues``);
check cross-resource rules on the raw data (``checks``; a policy's variables against its
template when the caller passes the renderer's lookup). All issues of all steps that could run
are raised together, sorted by position. Pure apart from reading lab.yaml and looking for
template files. Reference cycles are the graph step's (``orchestrator.graph.build_graph``);
``orchestrator.labfile.load`` is the front door that runs all of it, as the commands do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from orchestrator.errors import SpecError, SpecIssue
from orchestrator.spec.checks import TemplateVariables, check
from orchestrator.spec.issues import issues_from
from orchestrator.spec.models import Lab
from orchestrator.spec.schema import model_schema
from orchestrator.spec.yamlsource import Positions, read_yaml


def default_templates_dir() -> Path:
    """``policy_templates/`` of the installed package (also when it imports as a namespace package)."""
    import policy_templates

    return Path(next(iter(policy_templates.__path__))).resolve()


def parse_lab(
    text: str,
    *,
    file: str = "lab.yaml",
    env: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
    templates_dir: Path | None = None,
    template_variables: TemplateVariables | None = None,
) -> tuple[Lab, Positions]:
    """Validate lab.yaml ``text``; ``file`` is the name used in messages. ``template_variables``
    (the renderer's lookup) checks policy variables; it reads the default templates folder only."""
    env = os.environ if env is None else env
    base = base_dir if base_dir is not None else Path.cwd()
    templates = templates_dir if templates_dir is not None else default_templates_dir()
    if templates.resolve() != default_templates_dir():
        template_variables = None  # the renderer reads only its own folder
    data, positions, issues = read_yaml(text, file, env)
    if data is None and not issues:
        issues.append(
            SpecIssue(file, 1, 1, "", "the file is empty: a lab needs at least name, target and apim")
        )
    if data is None:
        raise SpecError(issues)
    if not isinstance(data, dict):
        mark = positions.value(())
        raise SpecError(
            [SpecIssue(file, mark.line, mark.column, "", "a lab must be a mapping of keys to values")]
        )
    lab: Lab | None = None
    try:
        lab = Lab.model_validate(data)
    except ValidationError as exc:
        # A value whose ${VAR} failed is already reported: no second issue for what is left of it.
        reported = {issue.path for issue in issues}
        issues += [i for i in issues_from(exc, data, positions, model_schema()) if i.path not in reported]
    issues += check(data, positions, base, templates, template_variables)
    if issues:
        raise SpecError(issues)
    assert lab is not None
    lab._positions = positions
    return lab, positions


def load_lab(
    path: Path,
    env: Mapping[str, str] | None = None,
    *,
    templates_dir: Path | None = None,
    template_variables: TemplateVariables | None = None,
) -> Lab:
    """Load and validate the lab at ``path``; raise ``SpecError`` with every issue found.

    ``env`` is the environment for ``${VAR}`` (default: ``os.environ``); ``templates_dir`` is
    where policy templates are looked up (default: the ``policy_templates`` package);
    ``template_variables`` see ``parse_lab``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([SpecIssue(str(path), 1, 1, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([SpecIssue(str(path), 1, 1, "", f"cannot read: {exc}")]) from None
    lab, positions = parse_lab(
        text,
        file=str(path),
        env=env,
        base_dir=path.resolve().parent,
        templates_dir=templates_dir,
        template_variables=template_variables,
    )
    lab._source = path.resolve()
    lab._positions = positions
    return lab
