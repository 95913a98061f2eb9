"""``prmlab verify``'s selection of checks: an unknown group is a usage error (exit 2), before
the lab is read or anything is contacted (issue 17 item 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.spec.values import CHECK_GROUPS


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    code = exited.value.code
    assert isinstance(code, int)
    return code, out, err


@pytest.mark.parametrize("selector", ["nope", "Forged", "forgedx", "nope.sign_in"])
def test_an_unknown_group_exits_2_and_lists_the_groups(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], selector: str
) -> None:
    missing = tmp_path / "no-such-lab.yaml"  # never read: the option is refused first
    code, out, err = _run(["verify", "-f", str(missing), "--check", "discovery", "--check", selector], capsys)
    assert code == 2
    assert out == ""
    assert f"unknown check group '{selector}'" in err
    assert f"the groups are {', '.join(CHECK_GROUPS)}" in err
    assert "0 passed" not in err + out


def test_known_groups_and_names_pass_the_option_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-lab.yaml"
    code, _, err = _run(
        ["verify", "-f", str(missing), "--check", "forged", "--check", "client.sign_in"], capsys
    )
    assert code == 2  # now the lab file is what is missing
    assert "file not found" in err
    assert "unknown check group" not in err
