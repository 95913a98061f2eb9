"""Line-aware YAML reading: lab.yaml text -> plain Python data + the position of every value.

Step 1 of loading (``loader.load_lab``). ruamel.yaml composes the node tree (which keeps marks);
this module builds plain dicts/lists/scalars from it itself, so that it can report *every*
duplicate key (not just the first), interpolate ``${VAR}`` in string values at their exact
column, and remember where each value and each key sits. Paths are tuples of keys and list
indices, e.g. ``("apim", "apis", "mcp", "path")``; lines and columns are 1-based.

Hostile input is bounded here, before it costs anything: nesting deeper than ``MAX_DEPTH`` and
more than ``MAX_NODES`` YAML nodes stop the composer itself (ruamel's composer recurses once per
level: 1,000 levels would overflow the stack); aliases expanding to more than ``MAX_VALUES``
values stop the builder; a value that YAML cannot construct (``!!int abc``, ``2001-13-45``, a
5,000-digit integer) and a ``<<`` merge of anything but mappings become issues at their mark.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.error import MarkedYAMLError, YAMLError, YAMLFutureWarning, YAMLWarning
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from orchestrator.errors import SpecIssue
from orchestrator.spec.interpolate import interpolate

PathT = tuple[str | int, ...]

# Aliases share nodes, so a small file can expand exponentially ("billion laughs"): cap it.
MAX_VALUES = 100_000
# A lab is about 10 levels deep; the 200-API benchmark lab has 16,000 nodes in 200 KB.
MAX_DEPTH = 64
MAX_NODES = 50_000
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
        if depth > MAX_DEPTH:
            self.issue(mark, path, f"nesting deeper than {MAX_DEPTH} levels once aliases are expanded")
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

    def _mapping(
        self, node: MappingNode, path: PathT, depth: int, merging: tuple[int, ...] = ()
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: list[Node] = []
        for key_node, value_node in node.value:
            if _tag(key_node) == _MERGE_TAG:
                # `<<: *a` or `<<: [*a, *b]`; anything else is reported below, not iterated.
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                merged += sources
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
                self.issue(_mark(source), path, "'<<' must merge a mapping (or a list of mappings)")
                continue
            if id(source) in merging or source is node or depth >= MAX_DEPTH:
                # `&a {<<: *a}`: a mapping that merges itself, directly or through others.
                self.issue(_mark(source), path, "'<<' merges a mapping into itself")
                continue
            inner = self._mapping(source, path, depth + 1, (*merging, id(node)))
            for key, value in inner.items():
                result.setdefault(key, value)
        return result

    def _scalar(self, node: ScalarNode, path: PathT) -> Any:
        tag = _tag(node)
        if tag != _STR_TAG:
            return self._construct(node, path, node)
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
                return self._construct(retyped, path, node, interpolated=True)
        return value

    def _construct(
        self, node: ScalarNode, path: PathT, written: ScalarNode, *, interpolated: bool = False
    ) -> Any:
        """The typed value of a scalar, or None and an issue when YAML cannot construct it.

        ruamel raises whatever Python's converters raise (ValueError for ``!!int abc`` and
        ``2001-13-45``, KeyError for ``!!bool maybe``, ValueError past 4,300 digits): all of them
        are the file's fault, so all become an issue at the value. The value is never echoed.
        """
        try:
            return self.yaml.constructor.construct_object(node, deep=True)
        except (YAMLError, ValueError, LookupError, ArithmeticError, TypeError) as exc:
            tag = _tag(node)
            # Typed by the resolver (a plain `2001-13-45`), not by an explicit `!!int` tag?
            implicit = (
                node.style is None
                and self.yaml.resolver.resolve(ScalarNode, str(node.value), (True, False)) == tag
            )
            self.issue(_mark(written), path, _construct_problem(tag, exc, implicit, interpolated))
            return None


_TYPE_WORDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean (true or false)",
    "null": "null",
    "timestamp": "a date (YYYY-MM-DD, optionally with a time)",
}


def _construct_problem(tag: str, exc: BaseException, implicit: bool, interpolated: bool) -> str:
    """What is wrong with a scalar YAML could not construct, without echoing the value."""
    if isinstance(exc, YAMLError):
        problem = str(getattr(exc, "problem", None) or "it cannot be constructed")
        return f"invalid value: {problem.splitlines()[0]}"
    kind = tag.removeprefix("tag:yaml.org,2002:")
    words = _TYPE_WORDS.get(kind, f"a !!{kind} value")
    detail = str(exc).splitlines()[0] if kind == "timestamp" else ""
    if kind == "int" and "digits" in str(exc):
        detail = "more than 4300 digits"
    because = f" ({detail})" if detail else ""
    if interpolated:
        return (
            f"the value from the environment looks like {words} but is not a valid one{because}; "
            "quote the ${...} in lab.yaml to keep it a string"
        )
    if implicit:
        return f"looks like {words} but is not a valid one{because}; quote it to write a string"
    return f"invalid value: not {words}{because}"


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


class _LimitExceededError(MarkedYAMLError):
    """Raised by ``_BoundedComposer`` at the node that crossed a limit."""


class _BoundedComposer(Composer):
    """ruamel's composer, refusing to go deeper than ``MAX_DEPTH`` or past ``MAX_NODES`` nodes.

    Checked before the node is composed, so a 1,000-level document never reaches the recursion
    limit and a huge one stops early (composing costs ~40 us a node in pure Python).
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.level = 0
        self.count = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.count += 1
        if self.level >= MAX_DEPTH or self.count > MAX_NODES:
            mark = self.parser.peek_event().start_mark
            problem = (
                f"nesting deeper than {MAX_DEPTH} levels"
                if self.level >= MAX_DEPTH
                else f"more than {MAX_NODES} values: a lab is far smaller (is this the right file?)"
            )
            raise _LimitExceededError(None, None, problem, mark)
        self.level += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.level -= 1


def _stream_mark(text: str, position: int) -> Mark:
    """1-based line and column of character ``position``, counting line breaks as YAML does."""
    before = text[:position]
    line, start = 1, 0
    for i, char in enumerate(before):
        if char in "\n\x85\u2028\u2029" or (char == "\r" and before[i + 1 : i + 2] != "\n"):
            line, start = line + 1, i + 1
    return Mark(line, position - start + 1)


def read_yaml(text: str, file: str, env: Mapping[str, str]) -> tuple[Any, Positions, list[SpecIssue]]:
    """Parse ``text``; return (data, positions, issues). ``data`` is None on a syntax error."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Composer = _BoundedComposer
    none = Positions(file, {}, {})
    with warnings.catch_warnings():
        # Reused anchors and YAML 1.1 floats are legal: ruamel's warnings are not our output.
        warnings.simplefilter("ignore", YAMLWarning)
        warnings.simplefilter("ignore", YAMLFutureWarning)
        try:
            root = yaml.compose(io.StringIO(text))
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            problem = exc.problem or exc.context or "invalid YAML"
            if exc.context and exc.problem:
                problem = f"{exc.problem} ({exc.context})"
            kind = "" if isinstance(exc, _LimitExceededError) else "YAML syntax error: "
            return None, none, [SpecIssue(file, line, col, "", f"{kind}{problem}")]
        except ReaderError as exc:
            # A character YAML does not allow (NUL, other control characters): say where it is.
            where = _stream_mark(text, exc.position) if isinstance(exc.position, int) else Mark(1, 1)
            char = exc.character
            shown = f"U+{char:04X}" if isinstance(char, int) else "a byte"
            message = f"character {shown} is not allowed in YAML (control characters cannot be written raw)"
            return None, none, [SpecIssue(file, where.line, where.column, "", message)]
        except YAMLError as exc:
            return None, none, [SpecIssue(file, 1, 1, "", f"YAML error: {str(exc).splitlines()[0]}")]
        builder = _Builder(file, env, yaml)
        data = None if root is None else builder.build(root, ())
    return data, Positions(file, builder.values, builder.keys), builder.issues
