"""``orchestrator.local`` and ``prmlab local``: background start, status, stop, logs, a dead
process, a taken port, and ``ensure_running`` as reconcile uses it."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator import local
from orchestrator.cli import cli
from orchestrator.errors import EmulatorError
from orchestrator.target import state_dir_for


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Path]:
    lab_file = tmp_path / "lab.yaml"
    lab_file.write_text("name: demo\n")
    yield lab_file
    local.stop(state_dir_for(lab_file))


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), standalone_mode=False, catch_exceptions=False)
    return int(result.return_value or 0), result.output


def test_start_status_stop_through_the_cli(lab: Path) -> None:
    state = state_dir_for(lab)
    assert state == lab.parent / ".prmlab"
    code, out = _run("local", "status", "-f", str(lab))
    assert (code, out.strip()) == (1, "the emulator is not running")
    code, out = _run("local", "start", "-f", str(lab))
    assert code == 0
    assert "emulator started: https://127.0.0.1:" in out
    info = local.read_info(state)
    assert info is not None
    assert (state / "emulator.pid").read_text().strip() == str(info.pid)
    code, out = _run("local", "start", "-f", str(lab))
    assert "already running" in out
    assert f"pid {info.pid}" in out
    assert local.ensure_running(state) == info
    code, out = _run("local", "status", "-f", str(lab))
    assert code == 0
    assert info.base_url in out
    code, out = _run("local", "logs", "-f", str(lab))
    assert "emulator ready on" in out
    code, out = _run("local", "logs", "--requests", "-f", str(lab))
    assert '"path":"/_emulator/health"' in out
    code, out = _run("local", "stop", "-f", str(lab))
    assert out.strip() == f"emulator stopped (pid {info.pid})"
    assert not (state / "emulator.json").exists()
    assert _run("local", "status", "-f", str(lab))[0] == 1
    assert _run("local", "stop", "-f", str(lab))[1].strip() == "emulator is not running"


def test_dead_process_is_reported_and_replaced(lab: Path) -> None:
    state = state_dir_for(lab)
    first = local.start(state)
    os.kill(first.pid, signal.SIGKILL)
    os.waitpid(first.pid, 0)  # our child: wait until the kernel has really ended it
    current = local.status(state)
    assert current.state == "dead"
    assert f"pid {first.pid}" in current.message
    assert "emulator.log" in current.message
    second = local.ensure_running(state)
    assert second.pid != first.pid
    # the previous port is reused, so issuer URLs and base URLs stay stable
    assert second.base_url == first.base_url
    assert (second.tenant_id, second.subscription_id) == (first.tenant_id, first.subscription_id)


def test_port_taken_is_a_clear_error(lab: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        with pytest.raises(EmulatorError, match=f"port {port} on 127.0.0.1 is already in use"):
            local.start(state_dir_for(lab), port=port)
    assert local.status(state_dir_for(lab)).state == "stopped"


def test_stop_never_signals_a_foreign_process(lab: Path) -> None:
    state = state_dir_for(lab)
    state.mkdir(parents=True)
    (state / "emulator.pid").write_text(f"{os.getpid()}\n")  # a live process that is not an emulator
    assert local.status(state).state == "dead"
    assert local.stop(state) is None


def test_concurrent_starts_share_one_emulator(lab: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    state = state_dir_for(lab)
    with ThreadPoolExecutor(max_workers=2) as pool:
        infos = list(pool.map(lambda _: local.ensure_running(state), range(2)))
    assert infos[0].pid == infos[1].pid
