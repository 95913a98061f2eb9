"""``load_lab``: lab.yaml -> a validated ``Lab``, or a ``SpecError`` listing every problem.

The front door of the spec. Flow: read the file; parse YAML keeping marks and interpolating
``${VAR}`` (``yamlsource``); derive what every MCP API needs and lab.yaml leaves out (its
policy, its PRM at both RFC 9728 URLs: ``mcp_apis``; the environment and registry more
servers share: ``servers``); validate the models (``models``; errors located by ``issues``);
check cross-resource rules on the raw data (``checks``; a policy's variables against its
template when the caller passes the renderer's lookup). All issues of all steps that could run
are raised together, sorted by position. Pure apart from reading lab.yaml and looking for
template files. Reference cycles are the graph step's (``orchestrator.graph.build_graph``);
``orchestrator.labfile.load`` is the front door that runs all of it, as the commands do.

Bounded on hostile input: only a regular file of at most ``MAX_BYTES`` is read (a FIFO or
``/dev/urandom`` would block or never end); depth and node counts are capped while parsing
(``yamlsource``); ``SpecError`` keeps the first ``MAX_ISSUES`` issues and counts the rest.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from orchestrator.errors import SpecError, SpecIssue
from orchestrator.spec.checks import TemplateVariables, check
from orchestrator.spec.issues import issues_from
from orchestrator.spec.mcp_apis import complete as complete_mcp_apis
from orchestrator.spec.models import Lab
from orchestrator.spec.schema import model_schema
from orchestrator.spec.servers import complete as complete_servers
from orchestrator.spec.yamlsource import Positions, read_yaml

# The 200-API benchmark lab is 200 KB; a hand-written lab is about 10 KB.
MAX_BYTES = 1024 * 1024
# SpecError keeps this many issues (and a count of the rest): only they need full messages.
MAX_ISSUES = SpecError.max_issues


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
    if len(text) > MAX_BYTES:
        raise SpecError([SpecIssue(file, 1, 1, "", _too_large(len(text), "characters"))])
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
    # Every MCP API's policy and PRM operations that lab.yaml leaves out (spec.mcp_apis)
    data, derived = complete_mcp_apis(data, positions)
    issues += derived
    data = complete_servers(data)  # more servers share server's environment and registry
    lab: Lab | None = None
    try:
        lab = Lab.model_validate(data)
    except ValidationError as exc:
        # A value whose ${VAR} failed is already reported: no second issue for what is left of it.
        reported = {issue.path for issue in issues}
        issues += [
            i
            for i in issues_from(exc, data, positions, model_schema(), detailed=MAX_ISSUES)
            if i.path not in reported
        ]
    issues += check(data, positions, base, templates, template_variables)
    if issues:
        raise SpecError(issues)
    assert lab is not None
    lab._positions = positions
    return lab, positions


def _too_large(size: int, unit: str) -> str:
    return f"the file is too large ({size} {unit}; a lab is at most {MAX_BYTES} bytes)"


def read_lab_text(path: Path) -> str:
    """The text of lab.yaml, refusing what is not a regular file of at most ``MAX_BYTES``.

    Opened without blocking (a FIFO would wait for a writer) and checked on the open descriptor
    (no window between the check and the read); read at most one byte past the cap.
    """
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise SpecError([SpecIssue(where, 1, 1, "", "file not found")]) from None
    except (OSError, ValueError) as exc:
        raise SpecError([SpecIssue(where, 1, 1, "", f"cannot read: {_reason(exc)}")]) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise SpecError([SpecIssue(where, 1, 1, "", f"cannot read: {kind} (lab.yaml must be a file)")])
        if info.st_size > MAX_BYTES:
            raise SpecError([SpecIssue(where, 1, 1, "", _too_large(info.st_size, "bytes"))])
        with os.fdopen(fd, "rb") as handle:
            fd = -1  # the file object closes it now
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SpecError([SpecIssue(where, 1, 1, "", f"cannot read: {_reason(exc)}")]) from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > MAX_BYTES:  # it grew while we read
        raise SpecError([SpecIssue(where, 1, 1, "", _too_large(len(data), "bytes or more"))])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"not UTF-8 text (byte 0x{data[exc.start]:02x} cannot be decoded): save the file as UTF-8"
        raise SpecError([SpecIssue(where, line, column, "", message)]) from None


def _reason(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__


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
    text = read_lab_text(path)
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
