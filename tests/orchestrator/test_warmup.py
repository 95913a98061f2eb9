"""``orchestrator.warmup``: what the reconcile imports ahead of need, in a fresh interpreter each
(this process has imported everything already)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from orchestrator import warmup


@pytest.mark.parametrize("name", [*warmup.SDK_MODULES, *warmup.VERIFIER_MODULES])
def test_every_module_named_exists(name: str) -> None:
    """The warm-up swallows ImportError (the real import reports it): a renamed module would
    silently stop being warmed, so each name is checked here."""
    importlib.import_module(name)


@pytest.mark.parametrize(("module", "name"), warmup.GRAPH_MODELS)
def test_every_graph_model_named_exists(module: str, name: str) -> None:
    assert callable(getattr(importlib.import_module(module), name))


def _run(code: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # the thread never prints (no traceback of its own)
    result: dict[str, object] = json.loads(done.stdout)
    return result


PROBE = """
import json, sys
from orchestrator.warmup import Warmup
w = Warmup(graph={graph}, verify={verify})
w.begin()
w.begin()  # idempotent: one thread at most
w.join()
threads = [w.thread.name] if w.thread is not None else []
print(json.dumps({{
    "threads": threads,
    "providers": "orchestrator.providers.entra" in sys.modules,
    # an Entity subclass no provider names: pulled in by Entity.get_field_deserializers only
    "entities": "msgraph.generated.models.aad_user_conversation_member" in sys.modules,
    "verifier": "orchestrator.verify.after_reconcile" in sys.modules,
}}))
"""


def test_begin_imports_the_sdks_then_the_thread_the_graph_models_and_the_verifier() -> None:
    seen = _run(PROBE.format(graph=True, verify=True))
    assert seen == {"threads": ["prmlab-warmup"], "providers": True, "entities": True, "verifier": True}


def test_only_what_the_command_needs_is_warmed() -> None:
    seen = _run(PROBE.format(graph=False, verify=False))
    assert seen == {"threads": [], "providers": True, "entities": False, "verifier": False}
    seen = _run(PROBE.format(graph=True, verify=False))
    assert seen["entities"] is True
    assert seen["verifier"] is False


def test_the_switch_interval_is_shorter_only_while_the_thread_imports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The main thread's loop gets the GIL back sooner while the thread imports; afterwards the
    interpreter's interval is what it was."""
    seen: list[float] = []
    monkeypatch.setattr(warmup, "graph_models", lambda: seen.append(sys.getswitchinterval()))
    before = sys.getswitchinterval()
    warm = warmup.Warmup(graph=True, verify=False)
    warm.begin()
    warm.join()
    assert seen == [pytest.approx(warmup.WARMUP_SWITCH_INTERVAL_S)]
    assert sys.getswitchinterval() == before
