"""Import rules of the tree, read from the source with ``ast`` (nothing is imported).

Every ``import`` counts, also those inside functions (the lazy imports that keep ``prmlab --help``
fast run too, later); imports under ``if TYPE_CHECKING:`` count for the layer rules (a type is a
dependency too) but not for circles (they never run). Importing ``a.b.c`` runs ``a`` and ``a.b``
first, so it is an edge to those packages as well (except to the importer's own packages).

Orchestrator (issue 21): the layers below, bottom first; a module imports only its own layer or
lower ones — in particular ``spec`` imports nothing above it and providers never import the
engine, the commands or the verifier; no module imports ``emulator`` (``local.py`` starts it as
a process, ``python -m emulator``); no import circles.

Emulator (issue 21): sealed sub-apps. The ground floor (store, context, ports, tokens,
storage_names, contracts) imports nothing but the ground floor; a sub-app (arm, graph, identity,
gateway, runner, storage) imports its own modules, the ground floor and, of another sub-app,
only names its package declares in ``__all__`` (``from emulator.identity import verify_token``);
the top (app, server, admin, …: what assembles the sub-apps) likewise reaches a sub-app only
through its declared API; no import circles.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted (a module of the tree or anything else)
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``
    names: tuple[str, ...] = ()  # ``from target import names`` (names that are not modules)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_of(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                inside.update(id(n) for n in ast.walk(child))
    return inside


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[Import]:
    """Every import in ``path``; ``from a import b`` is an import of ``a.b`` when that is a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    type_only = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        pairs: list[tuple[str, str | None]]  # (target, name imported from it)
        if isinstance(node, ast.Import):
            pairs = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            pairs = [
                (f"{base}.{a.name}", None) if f"{base}.{a.name}" in known else (base, a.name)
                for a in node.names
            ]
        else:
            continue
        targets: dict[str, list[str]] = {}
        for target, imported in pairs:
            targets.setdefault(target, []).extend([imported] if imported else [])
        for target, imported_names in targets.items():
            yield Import(name, target, node.lineno, id(node) in type_only, tuple(imported_names))


def import_graph(package: str) -> tuple[dict[str, Path], list[Import]]:
    modules = modules_of(package)
    known = set(modules)
    found = [imp for name, path in modules.items() for imp in imports_of(name, path, known)]
    return modules, found


def runtime_edges(modules: dict[str, Path], found: list[Import]) -> dict[str, set[str]]:
    """Module -> modules of the tree it runs on import (packages of an imported module included)."""
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for imp in found:
        if imp.type_only:
            continue
        parts = imp.target.split(".")
        own = {".".join(imp.source.split(".")[:i]) for i in range(1, len(imp.source.split(".")) + 1)}
        for i in range(1, len(parts) + 1):
            target = ".".join(parts[:i])
            explicit = i == len(parts)
            if target in modules and target != imp.source and (explicit or target not in own):
                edges[imp.source].add(target)
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(edges):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


# ------------------------------------------------------------------ orchestrator

# Bottom first. A module belongs to the first entry that is its name or a package above it.
ORCHESTRATOR_LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "orchestrator.errors",
        "orchestrator.urls",
        "orchestrator.resource",
        "orchestrator.kinds",
        "orchestrator.clouds",
    ),
    (
        "orchestrator.retry",
        "orchestrator.lock",
        "orchestrator.local",
        "orchestrator.logsources",
        "orchestrator.pacing",
        "orchestrator.pacing_policy",
        "orchestrator.pending",
    ),
    ("orchestrator.spec",),
    ("orchestrator.render", "orchestrator.resolve", "orchestrator.graph", "orchestrator.modes"),
    (
        "orchestrator.plan",
        "orchestrator.apply",
        "orchestrator.output",
        "orchestrator.target",
        "orchestrator.credentials",
        "orchestrator.local_credential",
        "orchestrator.guard",
    ),
    ("orchestrator.providers",),
    ("orchestrator.verify", "orchestrator.global_names", "orchestrator.preflight"),
    ("orchestrator.engine", "orchestrator.labfile", "orchestrator.warmup"),
    ("orchestrator.commands", "orchestrator.cli", "orchestrator.__main__", "orchestrator"),
)


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (length of the matching entry, layer)
    for layer, entries in enumerate(ORCHESTRATOR_LAYERS):
        for entry in entries:
            if module == entry or module.startswith(entry + "."):
                candidate = (len(entry), layer)
                best = candidate if best is None or candidate > best else best
    return None if best is None else best[1]


ORCH_MODULES, ORCH_IMPORTS = import_graph("orchestrator")


def _where(imp: Import) -> str:
    path = ORCH_MODULES[imp.source].relative_to(ROOT)
    return f"{path}:{imp.line}: {imp.source} imports {imp.target}" + (
        " (TYPE_CHECKING)" if imp.type_only else ""
    )


def test_every_orchestrator_module_has_a_layer() -> None:
    missing = [m for m in ORCH_MODULES if layer_of(m) is None]
    assert not missing, "no layer in ORCHESTRATOR_LAYERS: " + ", ".join(missing)


def test_orchestrator_imports_no_layer_above_its_own() -> None:
    upward = []
    for imp in ORCH_IMPORTS:
        source, target = layer_of(imp.source), layer_of(imp.target)
        if source is not None and target is not None and target > source:
            upward.append(_where(imp))
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_spec_imports_nothing_above_it() -> None:
    allowed = (
        "orchestrator.spec",
        "orchestrator.errors",
        "orchestrator.resource",
        "orchestrator.urls",
        "orchestrator.kinds",
    )
    bad = [
        _where(imp)
        for imp in ORCH_IMPORTS
        if imp.source.startswith("orchestrator.spec")
        and imp.target.startswith("orchestrator")
        and not any(imp.target == a or imp.target.startswith(a + ".") for a in allowed)
    ]
    assert not bad, "spec imports above it:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    "forbidden", ["orchestrator.engine", "orchestrator.commands", "orchestrator.verify", "orchestrator.cli"]
)
def test_providers_do_not_import(forbidden: str) -> None:
    bad = [
        _where(imp)
        for imp in ORCH_IMPORTS
        if imp.source.startswith("orchestrator.providers")
        and (imp.target == forbidden or imp.target.startswith(forbidden + "."))
    ]
    assert not bad, "\n".join(bad)


def test_orchestrator_never_imports_the_emulator() -> None:
    # local.py starts it as a process (``python -m emulator``) and imports nothing of it.
    bad = [
        _where(imp) for imp in ORCH_IMPORTS if imp.target == "emulator" or imp.target.startswith("emulator.")
    ]
    assert not bad, "\n".join(bad)


def test_orchestrator_has_no_import_circles() -> None:
    found = circles(runtime_edges(ORCH_MODULES, ORCH_IMPORTS))
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


# ------------------------------------------------------------------ emulator

EMULATOR_SUB_APPS = ("arm", "graph", "identity", "gateway", "runner", "storage")
EMULATOR_GROUND = (
    "emulator.store", "emulator.context", "emulator.ports", "emulator.tokens", "emulator.storage_names",
    "emulator.contracts", "emulator.rbac",
)  # fmt: skip
EMULATOR_TOP = (
    "emulator", "emulator.__main__", "emulator.app", "emulator.server", "emulator.admin", "emulator.faults",
    "emulator.reqlog", "emulator.tls", "emulator.statedir",
)  # fmt: skip

EMU_MODULES, EMU_IMPORTS = import_graph("emulator")


def _within(module: str, entries: tuple[str, ...]) -> bool:
    return any(module == e or module.startswith(e + ".") for e in entries)


def emulator_place(module: str) -> str | None:
    """``ground``, ``top``, the sub-app's name, or None (a module no rule knows)."""
    if _within(module, EMULATOR_GROUND):
        return "ground"
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in EMULATOR_SUB_APPS:
        return parts[1]
    return "top" if module in EMULATOR_TOP else None


def declared_api(package: str) -> set[str] | None:
    """The names of ``__all__`` in the package's ``__init__.py`` (a list/tuple literal), or None."""
    tree = ast.parse(EMU_MODULES[package].read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            value = ast.literal_eval(node.value)
            return {str(v) for v in value}
    return None


def bound_names(package: str) -> set[str]:
    """Names the package's ``__init__.py`` binds at module level (defs, classes, assignments, imports)."""
    tree = ast.parse(EMU_MODULES[package].read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _emu_where(imp: Import) -> str:
    path = EMU_MODULES[imp.source].relative_to(ROOT)
    names = f" ({', '.join(imp.names)})" if imp.names else ""
    return f"{path}:{imp.line}: {imp.source} imports {imp.target}{names}" + (
        " (TYPE_CHECKING)" if imp.type_only else ""
    )


def _emulator_violation(imp: Import) -> str | None:
    """Why the import breaks the emulator's rules, or None."""
    source, target = emulator_place(imp.source), emulator_place(imp.target)
    if not (imp.target == "emulator" or imp.target.startswith("emulator.")) or target == "ground":
        return None
    if source == "ground":
        return "the ground floor imports only the ground floor"
    if target == "top":
        return None if source == "top" else "a sub-app imports the top (what assembles the sub-apps)"
    if target == source:
        return None
    package = f"emulator.{target}"
    if imp.target != package:
        return f"a private module of {package}; import its declared API (``from {package} import ...``)"
    if source != "top" and not imp.names:
        return f"the whole package {package}; import the names of its ``__all__``"
    api = declared_api(package) or set()
    outside = sorted(set(imp.names) - api)
    return f"not in {package}.__all__: {', '.join(outside)}" if outside else None


def test_every_emulator_module_has_a_place() -> None:
    missing = [m for m in EMU_MODULES if emulator_place(m) is None]
    assert not missing, "no place (EMULATOR_GROUND / EMULATOR_SUB_APPS / EMULATOR_TOP): " + ", ".join(missing)


@pytest.mark.parametrize("sub_app", EMULATOR_SUB_APPS)
def test_sub_app_declares_its_api(sub_app: str) -> None:
    package = f"emulator.{sub_app}"
    api = declared_api(package)
    assert api is not None, f"{package} has no __all__"
    unbound = sorted(api - bound_names(package))
    assert not unbound, f"{package}.__all__ names what the package does not define: {unbound}"


def test_emulator_sub_apps_are_sealed() -> None:
    bad = [f"{_emu_where(imp)}: {why}" for imp in EMU_IMPORTS if (why := _emulator_violation(imp))]
    assert not bad, "emulator import rules broken:\n" + "\n".join(bad)


def test_emulator_has_no_import_circles() -> None:
    found = circles(runtime_edges(EMU_MODULES, EMU_IMPORTS))
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


# ------------------------------------------------------------------ the rules' own machinery


def test_a_circle_is_found() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(edges) == [["a", "b", "c"]]


def test_lazy_imports_count_and_type_checking_imports_only_for_layers(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from orchestrator.engine import x\n"
        "def f():\n    from orchestrator.cli import y\n",
        encoding="utf-8",
    )
    found = list(imports_of("orchestrator.spec.m", source, {"orchestrator.engine", "orchestrator.cli"}))
    assert [(i.target, i.type_only) for i in found if i.target.startswith("orchestrator")] == [
        ("orchestrator.engine", True),
        ("orchestrator.cli", False),
    ]
    assert layer_of("orchestrator.spec.m") == 2
    assert layer_of("orchestrator.engine") == 7


@pytest.mark.parametrize(
    ("source", "target", "names", "broken"),
    [
        ("emulator.gateway.tokens", "emulator.identity", ("verify_token",), False),
        ("emulator.gateway.tokens", "emulator.identity.keys", (), True),  # a private module
        ("emulator.gateway.tokens", "emulator.identity", ("current_key",), True),  # not declared
        ("emulator.gateway.tokens", "emulator.identity", (), True),  # the whole package
        ("emulator.arm.apim", "emulator.gateway.check", (), True),
        ("emulator.arm.storage", "emulator.storage_names", ("ACCOUNTS",), False),  # ground floor
        ("emulator.store", "emulator.identity", ("sign",), True),  # the ground floor reaching up
        ("emulator.graph.router", "emulator.app", ("build_app",), True),  # a sub-app reaching the top
        ("emulator.app", "emulator.arm", ("ArmSettings",), False),
        ("emulator.app", "emulator.arm.settings", (), True),
        ("emulator.gateway.engine", "emulator.gateway.elements.core", (), False),  # its own modules
    ],
)
def test_emulator_rules_tell_sealed_from_broken(
    source: str, target: str, names: tuple[str, ...], broken: bool
) -> None:
    assert (_emulator_violation(Import(source, target, 1, False, names)) is not None) is broken
