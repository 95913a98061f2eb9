"""``orchestrator.modes``: each authorization mode names real templates that the shipped labs use
in the roles the verifier looks for, and a suite of known check groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.modes import ENTRA, GATEWAY, MODES, AuthorizationMode, mode_of
from orchestrator.render import template_names
from orchestrator.spec import load_lab
from orchestrator.spec.values import CHECK_GROUPS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("mode", list(MODES.values()), ids=list(MODES))
def test_a_mode_names_existing_templates_and_known_groups(mode: AuthorizationMode) -> None:
    m = mode
    assert m.mcp_api_template in template_names()
    assert m.authorization_server_template is None or m.authorization_server_template in template_names()
    assert set(m.checks) <= set(CHECK_GROUPS)
    assert m.checks[0] == "discovery"


@pytest.mark.parametrize(("lab_file", "mode"), [("lab.yaml", ENTRA), ("labs/gateway.yaml", GATEWAY)])
def test_the_shipped_labs_use_their_modes_templates(lab_file: str, mode: AuthorizationMode) -> None:
    lab = load_lab(ROOT / lab_file, env={})
    assert mode_of(lab) is mode
    templates = {api.policy.template for api in lab.apim.apis.values() if api.policy is not None}
    assert mode_of(lab).mcp_api_template in templates
    server = mode_of(lab).authorization_server_template
    assert server is None or server in templates


def test_every_lab_mode_has_an_entry() -> None:
    from typing import get_args

    from orchestrator.spec.models import Authorization

    assert set(MODES) == set(get_args(Authorization.model_fields["mode"].annotation))
