"""Planner scenarios as data: ``cases/plan_cases.json`` (nodes + actual facts -> expected steps)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator import errors
from orchestrator.plan import NodeInput, Plan, build_destroy_plan, build_plan, topological
from orchestrator.resource import UNKNOWN, Action, Actual, Secret
from tests.orchestrator.fakes import LAB, FakeCloud, FakeRef, providers

CASES = json.loads((Path(__file__).parent / "cases" / "plan_cases.json").read_text())


def _value(raw: Any) -> Any:
    if isinstance(raw, dict):
        if "$ref" in raw:
            return FakeRef(raw["$ref"], raw.get("suffix"))
        if "$secret" in raw:
            return Secret(raw["$secret"])
        return {k: _value(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_value(v) for v in raw]
    return raw


def shown(value: Any) -> Any:
    """How a value is compared with the JSON expectations (markers by their printed form)."""
    if value is UNKNOWN or isinstance(value, Secret):
        return str(value)
    return value


def plan_for(case: dict[str, Any]) -> Plan:
    nodes = [
        NodeInput(
            n["address"],
            n["kind"],
            tuple(n.get("depends_on", ())),
            {"name": n["spec"]["name"], "props": _value(n["spec"]["props"])},
            n.get("adopt", False),
            container=n.get("container"),
            adopt_setting=n.get("adopt_setting", "adopt: true"),
        )
        for n in case["nodes"]
    ]
    actuals = {
        a["address"]: Actual(
            a["address"],
            a["kind"],
            a["name"],
            _value(a["properties"]),
            a.get("outputs", {}),
            a.get("owned", True),
            keep=a.get("keep", ""),
            owners=tuple(a.get("owners", ())),
        )
        for a in case["actual"]
    }
    kinds = sorted({n.kind for n in nodes} | {a.kind for a in actuals.values()})
    immutable = {k: frozenset(v) for k, v in case.get("immutable", {}).items()}
    if case.get("destroy"):
        return build_destroy_plan(LAB, nodes, actuals)
    return build_plan(LAB, nodes, providers(FakeCloud(), kinds, immutable), actuals)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_plan_case(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(getattr(errors, case["error"])) as info:
            plan_for(case)
        for text in case["error_text"]:
            assert text in info.value.message
        for text in case.get("error_text_absent", ()):
            assert text not in info.value.message
        return
    plan = plan_for(case)
    assert {s.address for s in plan.steps} == set(case["expect"])
    for address, expected in case["expect"].items():
        step = plan.step(address)
        assert step.action == Action(expected["action"]), address
        if "changes" in expected:
            got = [[c.path, shown(c.old), shown(c.new), c.forces_replacement] for c in step.changes]
            assert got == expected["changes"], address
        for key in ("reason", "replaced_with"):
            if key in expected:
                assert getattr(step, key) == expected[key], address
        if "depends_on" in expected:
            assert list(step.depends_on) == expected["depends_on"], address
        if "after" in expected:
            assert sorted(step.after) == sorted(expected["after"]), address
        for key, value in expected.get("desired", {}).items():
            assert step.desired is not None
            assert shown(step.desired.properties[key]) == value, address


def test_plan_is_immutable_and_counted() -> None:
    plan = plan_for(CASES[2])
    with pytest.raises(AttributeError):
        plan.steps[0].action = Action.DELETE  # type: ignore[misc]
    counts = plan.counts()
    assert counts[Action.UPDATE] == 1
    assert counts[Action.NOOP] == 1
    assert plan.has_changes
    assert [s.address for s in plan.changes] == ["nv.a"]


def test_unchanged_plan_has_no_changes() -> None:
    assert not plan_for(CASES[1]).has_changes


def test_topological_order_is_deterministic_and_dependencies_first() -> None:
    nodes = [
        NodeInput("c", "k", ("a", "b"), None),
        NodeInput("b", "k", ("a",), None),
        NodeInput("a", "k", (), None),
        NodeInput("d", "k", (), None),
    ]
    assert [n.address for n in topological(nodes)] == ["a", "d", "b", "c"]
    assert [n.address for n in topological(list(reversed(nodes)))] == ["a", "d", "b", "c"]


def test_a_cycle_is_reported() -> None:
    nodes = [NodeInput("a", "k", ("b",), None), NodeInput("b", "k", ("a",), None)]
    with pytest.raises(errors.PrmlabError, match="cycle"):
        topological(nodes)
