"""Seeded mutations of real lab files, for the loader's fuzz test and ``benchmarks/validate_limits.py``.

``mutants(seed, count)`` yields ``count`` texts, each the default lab or ``labs/gateway.yaml``
with one to three edits: lines deleted, duplicated, swapped, re-indented or truncated; values
replaced by hostile tokens (bad tags, impossible dates, huge numbers, merge keys, aliases,
deep nesting, control characters, interpolation); characters inserted or removed; keys
renamed. Same seed, same mutants, on every machine.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SEEDS = (REPO / "lab.yaml", REPO / "labs" / "gateway.yaml")
# The environment every mutant is loaded with (the labs' own ${VAR:-default} need none).
ENV = {"V": "2001-13-45", "PRESENT": "from-env", "EMPTY": "", "DEEP": "[[[[1]]]]"}

TOKENS = (
    "!!int abc",
    "!!bool maybe",
    "!!float abc",
    "!!int 12",
    "!!str 12",
    "!!binary AAAA",
    "!!timestamp x",
    "!!null x",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!python/object/apply:os.system [ls]",
    "!custom x",
    "2001-13-45",
    "2001-01-01",
    "2001-01-01T25:61:61Z",
    "9" * 5000,
    "-" + "9" * 4400,
    "1e400",
    "-.inf",
    ".nan",
    "0x1F",
    "0o17",
    "-1",
    "0",
    "65536",
    "true",
    "yes",
    "~",
    "null",
    "''",
    '""',
    "[]",
    "{}",
    "[1, [2, [3]]]",
    "{a: {b: {c: 1}}}",
    "*undefined",
    "&anchor value",
    "*anchor",
    "<<: foo",
    "{<<: [1, 2]}",
    "[" * 200 + "]" * 200,
    "{a: " * 100 + "1" + "}" * 100,
    '"unterminated',
    "'unterminated",
    "{unterminated",
    "[unterminated",
    "${UNSET}",
    "${V}",
    "${EMPTY:-fallback}",
    "${DEEP}",
    "${",
    "$${literal}",
    "${1BAD}",
    '"\\u2028"',
    '"\\0"',
    '"\\e[31m"',
    '"a\\tb"',
    '"\\x85"',
    "a" * 300,
    "./" + "s" * 300,
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http://example.com/cb",
    "https://0x7f000001/x",
    "{ref: server.url}",
    "{ref: apim.backends.mcp-backend.url}",
    "{ref: nowhere.at.all}",
    "{ref: 42}",
    "{named_value: Nope}",
    "{value: x, secret: true}",
    "0Gi",
    "5Gi",
    "0.3",
    "? complex\n  : key",
    "|\n  block",
    ">-\n  folded",
    "- item",
    "key: value: more",
    "@reserved",
    "`reserved",
    "%percent",
    "# only a comment",
)

INSERTED_LINES = (
    "---",
    "...",
    "%YAML 1.1",
    "%TAG ! tag:example.com,2000:",
    "<<: *nope",
    "<<: foo",
    "&x <<: 1",
    "? [a, b]\n: c",
    "unknown_key: 1",
    "\t tab_indented: 1",
    "x: " + "[" * 1200 + "]" * 1200,
    "".join(" " * i + f"k{i}:\n" for i in range(70)) + " " * 70 + "v: 1",
    "anchors: &a [*a]",
    "merge: &m {<<: *m}",
)

CHARS = (
    "\x00",
    "\x07",
    "\x1b",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\ufeff",
    "\ud800",
    "\t",
    "\r",
    "\n",
    " ",
    ":",
    "-",
    "#",
    "&",
    "*",
    "!",
    "|",
    ">",
    "'",
    '"',
    "{",
    "}",
    "[",
    "]",
    ",",
    "?",
    "%",
    "@",
    "`",
    "\\",
    "$",
    "é",
)

_VALUE = re.compile(r"^(\s*(?:- )?[^\s:#][^:#]*:\s)(.+)$")
_KEY = re.compile(r"^(\s*(?:- )?)([A-Za-z_][A-Za-z0-9_-]*)(:.*)$")


def _mutate(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    op = rng.randrange(11)
    i = rng.randrange(len(lines))
    if op == 0:  # delete a line
        del lines[i]
    elif op == 1:  # duplicate a line
        lines.insert(i, lines[i])
    elif op == 2:  # swap two lines
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif op in (3, 4, 5):  # replace a value with a hostile token
        candidates = [k for k, line in enumerate(lines) if _VALUE.match(line)]
        if candidates:
            k = rng.choice(candidates)
            match = _VALUE.match(lines[k])
            assert match is not None
            lines[k] = match.group(1) + rng.choice(TOKENS)
    elif op == 6:  # insert a line at some indentation
        lines.insert(i, " " * rng.choice((0, 2, 4, 6, 1, 3)) + rng.choice(INSERTED_LINES))
    elif op == 7:  # re-indent a line
        shift = rng.choice((-3, -2, -1, 1, 2, 3))
        lines[i] = lines[i][-shift:] if shift < 0 else " " * shift + lines[i]
    elif op == 8:  # insert characters
        line = lines[i]
        at = rng.randrange(len(line) + 1)
        lines[i] = line[:at] + "".join(rng.choice(CHARS) for _ in range(rng.randint(1, 3))) + line[at:]
    elif op == 9:  # delete a span of characters, or truncate the file
        joined = "\n".join(lines)
        at = rng.randrange(len(joined))
        if rng.random() < 0.2:
            return joined[:at]
        return joined[:at] + joined[at + rng.randint(1, 40) :]
    else:  # rename a key
        candidates = [k for k, line in enumerate(lines) if _KEY.match(line)]
        if candidates:
            k = rng.choice(candidates)
            match = _KEY.match(lines[k])
            assert match is not None
            key = match.group(2)
            renamed = rng.choice((key[:-1], key + "s", key.upper(), "x" + key, "<<", "a" * 100))
            lines[k] = match.group(1) + renamed + match.group(3)
    return "\n".join(lines)


def mutants(seed: int, count: int) -> Iterator[tuple[int, str, Path]]:
    """``count`` (index, text, folder) triples, deterministic for ``seed``; ``folder`` is where
    the seed lives relative to the repository (its ``server.source`` is relative to it)."""
    rng = random.Random(seed)
    sources = [(path.read_text(encoding="utf-8"), path.parent.relative_to(REPO)) for path in SEEDS]
    for index in range(count):
        text, folder = sources[index % len(sources)]
        for _ in range(rng.randint(1, 3)):
            text = _mutate(rng, text)
        yield index, text, folder
