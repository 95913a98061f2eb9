"""``prmlab local logs`` redacts what it prints (issue 17 item 8): a log written before the
emulator redacted its output, or by anything else, may hold credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.target import state_dir_for

LINES = (
    "2026-01-01 emulator INFO emulator ready on https://127.0.0.1:4443\n"
    '2026-01-01 x ERROR "GET /auth/callback?code=0.AX-leaked-code&state=leaked-state HTTP/1.1"\n'
    "2026-01-01 x ERROR headers {'Authorization': 'Bearer leaked-bearer-token'}\n"
)


def test_logs_are_printed_redacted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: t\n", encoding="utf-8")  # only its folder matters here
    state = state_dir_for(lab)
    state.mkdir(parents=True)
    (state / "emulator.log").write_text(LINES, encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        main(["local", "logs", "-f", str(lab)])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "emulator ready on https://127.0.0.1:4443" in out
    assert "/auth/callback?code=[REDACTED]&state=[REDACTED]" in out
    for secret in ("leaked-code", "leaked-state", "leaked-bearer-token"):
        assert secret not in out
