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

from emulator.gateway.services import METRICS_FILE
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
    assert info.app_keep_alive_s == 2  # its apps' keep-alive, published for the verifier
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


def test_while_starting_runs_once_while_a_new_emulator_starts(lab: Path) -> None:
    """The caller's start-up work (``orchestrator.warmup``) overlaps a new emulator's start; an
    emulator already running has no start to overlap with."""
    state = state_dir_for(lab)
    calls: list[str] = []
    info = local.start(state, while_starting=lambda: calls.append("warm"))
    assert calls == ["warm"]
    assert local.start(state, while_starting=lambda: calls.append("again")) == info
    assert calls == ["warm"]


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


# ------------------------------------------------------------ found by the lock it holds (issue 17.4)


def test_an_emulator_without_its_files_is_found_by_the_lock_it_holds(lab: Path) -> None:
    state = state_dir_for(lab)
    first = local.start(state)
    (state / "emulator.json").unlink()
    (state / "emulator.pid").unlink()
    current = local.status(state)
    assert (current.state, current.pid) == ("unhealthy", first.pid)
    assert "emulator.lock" in current.message
    _, out = _run("local", "stop", "-f", str(lab))
    assert out.strip() == f"emulator stopped (pid {first.pid})"
    assert local.lock_holder(state) is None
    assert local.status(state).state == "stopped"


def test_reconcile_replaces_an_emulator_whose_files_are_gone(lab: Path) -> None:
    state = state_dir_for(lab)
    first = local.start(state)
    (state / "emulator.json").unlink()
    (state / "emulator.pid").write_text("999999\n")  # stale
    second = local.ensure_running(state)  # what reconcile calls: no "another emulator runs"
    assert second.pid != first.pid
    assert local.lock_holder(state) == second.pid
    assert local.status(state).state == "running"


def test_a_stale_pid_file_never_signals_a_process_that_looks_like_an_emulator(lab: Path) -> None:
    """The pid files name a live process whose command line reads ``python ... -m emulator``:
    it holds no lock on this folder, so it is not this folder's emulator."""
    import subprocess
    import sys

    state = state_dir_for(lab)
    state.mkdir(parents=True)
    decoy = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()", "-m", "emulator", "--state-dir", str(state)],
        stdin=subprocess.PIPE,
    )
    try:
        (state / "emulator.pid").write_text(f"{decoy.pid}\n")
        assert local.status(state).state == "dead"
        assert local.stop(state) is None
        assert decoy.poll() is None  # still running: never signalled
    finally:
        assert decoy.stdin is not None
        decoy.stdin.close()
        decoy.wait(timeout=15)


def test_the_state_folder_and_the_cli_files_in_it_are_private(lab: Path) -> None:
    state = state_dir_for(lab)
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    local.start(state)
    assert oct(state.stat().st_mode & 0o777) == "0o700"
    for name in ("emulator.pid", "emulator.start.lock", "emulator.log", "emulator.lock", "emulator.json"):
        assert oct((state / name).stat().st_mode & 0o777) == "0o600", name


# ------------------------------------------------------------ damaged state (issue 17.19)


def test_a_damaged_database_stops_the_start_with_what_and_how(lab: Path) -> None:
    state = state_dir_for(lab)
    state.mkdir(parents=True)
    db = state / "emulator.sqlite"
    db.write_bytes(b"garbage" * 1000)
    with pytest.raises(EmulatorError) as caught:
        local.start(state)
    message = str(caught.value)
    assert message.startswith(f"the emulator's state database {db} is unusable: it is not a readable SQLite")
    assert "Traceback" not in message
    assert f"mv {db} {db}.broken" in message
    assert db.read_bytes() == b"garbage" * 1000


def test_an_empty_database_is_not_silently_a_fresh_emulator(lab: Path) -> None:
    state = state_dir_for(lab)
    state.mkdir(parents=True)
    db = state / "emulator.sqlite"
    db.write_bytes(b"")
    with pytest.raises(EmulatorError, match=r"is unusable: it is empty \(0 bytes\)"):
        local.start(state)
    assert db.read_bytes() == b""


def test_logs_metrics_prints_the_custom_metrics_of_the_gateways(lab: Path) -> None:
    state = state_dir_for(lab)
    assert local.METRICS_LOG == METRICS_FILE  # the file the gateways write
    assert _run("local", "logs", "--metrics", "-f", str(lab))[0] == 1  # none yet
    state.mkdir(parents=True, exist_ok=True)
    line = '{"name": "Total Tokens", "value": 30, "customDimensions": {"API ID": "llm"}}'
    (state / local.METRICS_LOG).write_text(line + "\n")
    code, out = _run("local", "logs", "--metrics", "-f", str(lab))
    assert (code, out.strip()) == (0, line)
    assert _run("local", "logs", "--metrics", "--requests", "-f", str(lab))[0] == 2
