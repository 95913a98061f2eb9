"""The commands' front door: lab.yaml -> a checked ``Lab`` and its ``ResourceGraph``.

Where it sits: above the spec, the renderer and the graph, so that none of them imports another
upwards. ``orchestrator.spec.load_lab`` validates lab.yaml on its own (models, cross-resource
rules, template names); here it is given the renderer's template-variable lookup
(``render.environment.variables_of``) so that each policy's variables are checked against its
template; then the graph step (``graph.build_graph``) finds reference cycles. Every problem is a
``SpecError`` naming file:line:col (exit code 2), as ``prmlab validate`` reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.graph import ResourceGraph
    from orchestrator.spec.models import Lab


def load(path: Path, env: Mapping[str, str] | None = None) -> tuple[Lab, ResourceGraph]:
    """Load, check and graph the lab at ``path`` (``env`` for ``${VAR}``; default ``os.environ``)."""
    from orchestrator.graph import build_graph
    from orchestrator.render.environment import variables_of
    from orchestrator.spec.loader import load_lab

    lab = load_lab(path, env, template_variables=variables_of)
    return lab, build_graph(lab)


def complete(lab: Lab, subscription_id: str) -> tuple[Lab, ResourceGraph]:
    """``lab`` with the global names it leaves out derived for ``subscription_id``
    (``spec.defaults.with_global_names``), and its graph. Called once the target is known (the
    local target's subscription is the emulator's), before anything is read or planned."""
    from orchestrator.graph import build_graph
    from orchestrator.spec.defaults import with_global_names

    done = with_global_names(lab, subscription_id)
    return done, build_graph(done)
