"""The emulator process: TLS with its own CA, 127.0.0.1 only, emulator.json, admin routes, stop."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from tests.support.emulator import EmulatorFactory, RunningEmulator


def test_info_health_and_emulator_json(emulator: RunningEmulator) -> None:
    info = json.loads((emulator.state_dir / "emulator.json").read_text())
    assert info["pid"] == emulator.process.pid
    assert info["base_url"] == f"https://127.0.0.1:{emulator.port}"
    with emulator.sync_http() as c:
        health = c.get("/_emulator/health").json()
        data = c.get("/_emulator/info").json()
    assert health["status"] == "ok"
    assert data["tenant_id"] == emulator.tenant_id
    assert data["subscription_id"] == emulator.subscription_id
    assert data["issuer"] == f"{emulator.base_url}/login/{emulator.tenant_id}/v2.0"
    assert Path(data["ca_file"]) == emulator.ca_file


def test_tls_is_signed_by_the_state_folder_ca_only(emulator: RunningEmulator) -> None:
    # the system trust store does not know the emulator's CA
    with pytest.raises(httpx.ConnectError), httpx.Client(verify=ssl.create_default_context()) as c:
        c.get(emulator.url("/_emulator/health"))
    ca = x509.load_pem_x509_certificate(emulator.ca_file.read_bytes())
    server = x509.load_pem_x509_certificate((emulator.state_dir / "server.pem").read_bytes())
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert oct((emulator.state_dir / "ca-key.pem").stat().st_mode & 0o777) == "0o600"


def test_listens_on_loopback_only(emulator: RunningEmulator) -> None:
    # every non-loopback address of this host must refuse the port
    host_ips = {str(ai[4][0]) for ai in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    for ip in host_ips - {"127.0.0.1"}:
        if ip.startswith("127."):
            continue
        with pytest.raises(ConnectionRefusedError), socket.create_connection((ip, emulator.port), timeout=2):
            pass
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=2):
        pass


def test_unknown_fault_settings_are_refused(emulator: RunningEmulator) -> None:
    with emulator.sync_http() as c:
        assert c.put("/_emulator/faults", json={"throttle_rate": 2}).status_code == 400
        assert c.put("/_emulator/faults", json={"nonsense": 1}).status_code == 400
        assert c.put("/_emulator/faults", json={"throttle_rate": 0.6, "error_rate": 0.6}).status_code == 400
        assert c.get("/_emulator/faults").json()["throttle_rate"] == 0


def test_sigterm_stops_cleanly_and_keeps_ca_and_ids(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator()
    ca_before = emu.ca_file.read_bytes()
    assert emu.stop() == 0
    assert not (emu.state_dir / "emulator.json").exists()
    again = make_emulator(state_dir=emu.state_dir)
    assert again.ca_file.read_bytes() == ca_before
    assert (again.tenant_id, again.subscription_id) == (emu.tenant_id, emu.subscription_id)
    assert again.process.pid != emu.process.pid
    again.process.send_signal(signal.SIGINT)
    assert again.process.wait(timeout=15) == 0


def test_port_taken_is_reported(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "emulator", "--state-dir", str(tmp_path), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 3
    assert f"port {port}" in result.stderr
    assert "already in use" in result.stderr


def test_one_emulator_per_state_folder(emulator: RunningEmulator) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "emulator", "--state-dir", str(emulator.state_dir)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 4
    assert f"pid {emulator.process.pid}" in result.stderr
    assert emulator.alive()
