"""Line-aware YAML reading: lab.yaml text -> plain Python data + the position of every value.

Step 1 of loading (``loader.load_lab``). ruamel.yaml composes the node tree (which keeps marks);
this module builds plain dicts/lists/scalars from it itself, so that it can report *every*
duplicate key (not just the first), interpolate ``${VAR}`` in string values at their exact
column, and remember where each value and each key sits. Paths are tuples of keys and list
indices, e.g. ``("apim", "apis", "mcp", "path")``; lines and columns are 1-based.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from orchestrator.errors import SpecIssue
from orchestrator.spec.interpolate import interpolate

PathT = tuple[str | int, ...]

# Aliases share nodes, so a small file can expand exponentially ("billion laughs"): cap it.
MAX_VALUES = 100_000
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True, slots=True)
class Mark:
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Positions:
    """Where each value (and, for mapping entries, its key) starts in the file."""

    file: str
    values: Mapping[PathT, Mark]
    keys: Mapping[PathT, Mark]

    def value(self, path: PathT) -> Mark:
        """The mark of the value at ``path``, or of its nearest located ancestor."""
        for cut in range(len(path), -1, -1):
            mark = self.values.get(path[:cut])
            if mark is not None:
                return mark
        return Mark(1, 1)

    def key(self, path: PathT) -> Mark:
        """The mark of the key of the entry at ``path`` (its value's mark for list items)."""
        return self.keys.get(path) or self.value(path)


def format_path(path: PathT) -> str:
    """``("a", "b", 0, "c")`` -> ``a.b[0].c``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class _Builder:
    file: str
    env: Mapping[str, str]
    yaml: YAML
    issues: list[SpecIssue] = field(default_factory=list)
    values: dict[PathT, Mark] = field(default_factory=dict)
    keys: dict[PathT, Mark] = field(default_factory=dict)
    built: int = 0

    def issue(self, mark: Mark, path: PathT, message: str) -> None:
        self.issues.append(SpecIssue(self.file, mark.line, mark.column, format_path(path), message))

    def build(self, node: Node, path: PathT, depth: int = 0) -> Any:
        mark = _mark(node)
        self.values.setdefault(path, mark)
        self.built += 1
        if depth > 64:
            self.issue(mark, path, "nesting too deep (a recursive alias?)")
            return None
        if self.built > MAX_VALUES:
            if self.built == MAX_VALUES + 1:
                self.issue(mark, path, f"more than {MAX_VALUES} values once aliases are expanded")
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return self._scalar(node, path)

    def _mapping(self, node: MappingNode, path: PathT, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: list[Node] = []
        for key_node, value_node in node.value:
            if _tag(key_node) == _MERGE_TAG:
                merged += [value_node] if isinstance(value_node, MappingNode) else list(value_node.value)
                continue
            key_mark = _mark(key_node)
            if not isinstance(key_node, ScalarNode):
                self.issue(key_mark, path, "a key must be a plain string")
                continue
            key = str(key_node.value)
            if key in result:
                first = self.keys[(*path, key)]
                self.issue(
                    key_mark, (*path, key), f"duplicate key '{key}' (first defined at line {first.line})"
                )
                continue
            self.keys[(*path, key)] = key_mark
            result[key] = self.build(value_node, (*path, key), depth + 1)
        for source in merged:  # YAML merge keys ("<<: *anchor"): explicit keys win
            if not isinstance(source, MappingNode):
                self.issue(_mark(source), path, "'<<' must merge a mapping")
                continue
            for key, value in self._mapping(source, path, depth + 1).items():
                result.setdefault(key, value)
        return result

    def _scalar(self, node: ScalarNode, path: PathT) -> Any:
        tag = _tag(node)
        if tag != _STR_TAG:
            try:
                return self.yaml.constructor.construct_object(node, deep=True)
            except YAMLError as exc:
                self.issue(_mark(node), path, f"invalid value: {getattr(exc, 'problem', None) or exc}")
                return None
        text = str(node.value)
        value, problems = interpolate(text, self.env)
        for problem in problems:
            self.issue(_offset_mark(node, problem.offset), path, problem.message)
        if value != text and node.style is None:
            # A plain scalar that was interpolated is typed again, as if written literally
            # (so `port: ${PORT:-8000}` is an int).
            resolved = self.yaml.resolver.resolve(ScalarNode, value, (True, False))
            if resolved != _STR_TAG:
                retyped = ScalarNode(resolved, value, node.start_mark, node.end_mark)
                try:
                    return self.yaml.constructor.construct_object(retyped, deep=True)
                except YAMLError:
                    return value
        return value


def _tag(node: Node) -> str:
    tag = node.tag
    return str(getattr(tag, "value", tag))


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _offset_mark(node: ScalarNode, offset: int) -> Mark:
    """Best column of character ``offset`` of a scalar: exact for one-line plain/quoted scalars."""
    start = _mark(node)
    if node.start_mark.line != node.end_mark.line:
        return start
    if node.style is None:
        return Mark(start.line, start.column + offset)
    if node.style in ("'", '"'):
        return Mark(start.line, start.column + 1 + offset)
    return start


def read_yaml(text: str, file: str, env: Mapping[str, str]) -> tuple[Any, Positions, list[SpecIssue]]:
    """Parse ``text``; return (data, positions, issues). ``data`` is None on a syntax error."""
    yaml = YAML(typ="safe", pure=True)
    try:
        root = yaml.compose(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.problem} ({exc.context})"
        issue = SpecIssue(file, line, col, "", f"YAML syntax error: {problem}")
        return None, Positions(file, {}, {}), [issue]
    except YAMLError as exc:
        return None, Positions(file, {}, {}), [SpecIssue(file, 1, 1, "", f"YAML error: {exc}")]
    builder = _Builder(file, env, yaml)
    data = None if root is None else builder.build(root, ())
    return data, Positions(file, builder.values, builder.keys), builder.issues
