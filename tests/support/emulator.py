"""The emulator as a test fixture: a subprocess on a temporary state folder, plus SDK clients.

``start_emulator(state_dir, *flags)`` runs ``python -m emulator`` and waits (bounded) until
``emulator.json`` names that process and ``/_emulator/health`` answers; it returns a
``RunningEmulator`` that builds the real SDK clients wired as ``EMULATOR-NOTES.md`` says:

* ``apim_client()`` — ``azure.mgmt.apimanagement.aio.ApiManagementClient``
* ``resource_client()`` — ``azure.mgmt.resource.resources.aio.ResourceManagementClient``
* ``graph_client(credential=None, max_retries=0)`` — ``msgraph.GraphServiceClient`` over
  kiota's default middleware with the emulator's CA.
* ``http()`` — an ``httpx.AsyncClient`` trusting the CA (raw calls).
* ``set_faults(**settings)`` / ``reset_faults()``, ``set_throttling(**settings)`` (ARM's token
  buckets, ``emulator.arm.throttle``), ``requests()`` (the request log),
  ``stop()`` (SIGTERM, clean) and ``kill()`` (SIGKILL).

The pytest fixtures ``emulator`` (one per session, faults reset around each test by
``emulator_faults``) and ``make_emulator`` (a fresh emulator per call, on its own folder, stopped
at teardown) are registered in ``tests/conftest.py``. Emulators started here run without ARM
throttling unless their flags say ``--arm-throttling on`` (``python -m emulator`` and ``prmlab
local start`` throttle with Azure's numbers by default): a test that reads ARM with raw HTTP
calls must not depend on how many requests the steps before it spent. The end-to-end tests
(``tests/e2e``, the real CLI) run with Azure's buckets and the engine's pacing. Likewise a role
assignment takes effect at once here (``--rbac-propagation-seconds 0`` unless the flags say
otherwise; ``emulator.rbac``): a test of propagation sets ``rbac_propagation_s`` itself; the
end-to-end tests run with the emulator's default delay.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from emulator.reqlog import REQUEST_LOG, read_log
from tests.support.credentials import ARM_SCOPE, GRAPH_SCOPE, operator_credential, operator_token

START_TIMEOUT_S = 30.0


@dataclass
class RunningEmulator:
    state_dir: Path
    process: subprocess.Popen[bytes]
    base_url: str
    port: int
    ca_file: Path
    tenant_id: str
    subscription_id: str
    _ssl: ssl.SSLContext | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ plumbing
    def url(self, path: str) -> str:
        return self.base_url + path

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=str(self.ca_file))
        return self._ssl

    def http(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, verify=self.ssl_context(), **kwargs)

    def arm_headers(self) -> dict[str, str]:
        """Headers of a raw ARM call made as the local operator (a real token of the emulator)."""
        return {
            "Authorization": f"Bearer {operator_token(self.base_url, self.tenant_id, self.ca_file, ARM_SCOPE)}"
        }

    def graph_headers(self) -> dict[str, str]:
        """Headers of a raw Graph call made as the local operator."""
        return {
            "Authorization": f"Bearer {operator_token(self.base_url, self.tenant_id, self.ca_file, GRAPH_SCOPE)}"
        }

    def credential(self) -> Any:
        """The local operator as an azure-core async credential (what prmlab uses)."""
        return operator_credential(self.base_url, self.tenant_id, self.ca_file)

    def sync_http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, verify=self.ssl_context(), timeout=10)

    # ------------------------------------------------------------------ SDK clients
    def apim_client(self, credential: Any = None, **kwargs: Any) -> Any:
        from azure.mgmt.apimanagement.aio import ApiManagementClient

        kwargs.setdefault("polling_interval", 0.05)
        kwargs.setdefault("retry_backoff_factor", 0.01)
        return ApiManagementClient(
            credential or self.credential(),
            self.subscription_id,
            base_url=self.base_url,
            connection_verify=str(self.ca_file),
            **kwargs,
        )

    def resource_client(self, credential: Any = None, **kwargs: Any) -> Any:
        from azure.mgmt.resource.resources.aio import ResourceManagementClient

        kwargs.setdefault("polling_interval", 0.05)
        kwargs.setdefault("retry_backoff_factor", 0.01)
        return ResourceManagementClient(
            credential or self.credential(),
            self.subscription_id,
            base_url=self.base_url,
            connection_verify=str(self.ca_file),
            **kwargs,
        )

    def authorization_client(self, credential: Any = None, **kwargs: Any) -> Any:
        """azure-mgmt-authorization at its default api-version (2022-04-01), as the preflight."""
        from azure.mgmt.authorization.aio import AuthorizationManagementClient

        kwargs.setdefault("retry_backoff_factor", 0.01)
        return AuthorizationManagementClient(
            credential or self.credential(),
            self.subscription_id,
            base_url=self.base_url,
            connection_verify=str(self.ca_file),
            **kwargs,
        )

    @contextlib.asynccontextmanager
    async def graph_client(
        self, credential: Any = None, *, max_retries: int = 0, allowed_hosts: list[str] | None = None
    ) -> AsyncIterator[Any]:
        """``async with emu.graph_client() as graph:`` — a ``GraphServiceClient``; closed on exit."""
        from kiota_authentication_azure.azure_identity_authentication_provider import (
            AzureIdentityAuthenticationProvider,
        )
        from kiota_http.middleware.options import RetryHandlerOption
        from msgraph import GraphServiceClient
        from msgraph.graph_request_adapter import GraphRequestAdapter
        from msgraph.graph_request_adapter import options as graph_default_options
        from msgraph_core import GraphClientFactory

        auth = AzureIdentityAuthenticationProvider(
            credential or self.credential(),
            scopes=[GRAPH_SCOPE],
            allowed_hosts=allowed_hosts if allowed_hosts is not None else ["127.0.0.1", "localhost"],
        )
        # Keep msgraph's own default options (its URL replacement turns the SDK's
        # /users/me-token-to-replace into /me) and tune kiota's retries.
        options = {
            **graph_default_options,
            RetryHandlerOption.get_key(): RetryHandlerOption(delay=0, max_retries=max_retries),
        }
        http = httpx.AsyncClient(verify=self.ssl_context(), timeout=30)
        inner = http._transport  # kiota wraps it; close it ourselves (the wrapper may not)
        client = GraphClientFactory.create_with_default_middleware(client=http, options=options)
        adapter = GraphRequestAdapter(auth, client=client)
        adapter.base_url = f"{self.base_url}/v1.0"
        try:
            yield GraphServiceClient(request_adapter=adapter)
        finally:
            await http.aclose()
            await inner.aclose()

    # ------------------------------------------------------------------ admin
    def set_faults(self, **settings: Any) -> dict[str, Any]:
        with self.sync_http() as c:
            r = c.put("/_emulator/faults", json=settings)
            r.raise_for_status()
            result: dict[str, Any] = r.json()
            return result

    def reset_faults(self) -> None:
        self.set_faults(
            latency_ms=0,
            throttle_rate=0,
            error_rate=0,
            replication_delay_s=0,
            rbac_propagation_s=0,
            seed=None,
            apis=["arm", "graph"],
            script=[],
            hold=None,
        )

    def set_throttling(self, **settings: Any) -> dict[str, Any]:
        """``PUT /_emulator/throttling`` (``enabled``, ``scale``, ``reads``/``writes``/``deletes``);
        every call refills all buckets."""
        with self.sync_http() as c:
            r = c.put("/_emulator/throttling", json=settings)
            r.raise_for_status()
            result: dict[str, Any] = r.json()
            return result

    def requests(self) -> list[dict[str, Any]]:
        return read_log(self.state_dir / REQUEST_LOG)

    # ------------------------------------------------------------------ lifecycle
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=15)


def _wait_ready(state_dir: Path, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    """Poll (bounded by START_TIMEOUT_S) until emulator.json names ``process`` and health answers.

    Synchronous on purpose: it is called from sync fixtures and from inside async tests alike.
    """
    info_path = state_dir / "emulator.json"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited with {process.returncode}; see {state_dir / 'emulator.log'}")
        # No exists()-then-read: a restarted emulator unlinks the stale file its killed predecessor
        # left (emulator.server.serve) between the two, and the read raised FileNotFoundError
        # (test_state_survives_kill_9 failed so in a loaded CI run).
        try:
            info: dict[str, Any] = json.loads(info_path.read_text())
        except (OSError, ValueError):
            info = {}
        if info.get("pid") == process.pid:
            ctx = ssl.create_default_context(cafile=info["ca_file"])
            with httpx.Client(verify=ctx, timeout=5) as c:
                if c.get(info["base_url"] + "/_emulator/health").status_code == 200:
                    return info
        time.sleep(0.02)
    raise TimeoutError(f"emulator did not become ready within {START_TIMEOUT_S} s")


def start_emulator(state_dir: Path, *flags: str) -> RunningEmulator:
    """Start ``python -m emulator`` on ``state_dir`` and wait until it is ready."""
    state_dir.mkdir(parents=True, exist_ok=True)
    if "--arm-throttling" not in flags:
        flags = (*flags, "--arm-throttling", "off")
    if "--rbac-propagation-seconds" not in flags:
        flags = (*flags, "--rbac-propagation-seconds", "0")
    log = (state_dir / "emulator.log").open("ab")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--state-dir", str(state_dir), *flags],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    log.close()
    try:
        info = _wait_ready(state_dir, process)
    except BaseException:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=15)
        raise
    return RunningEmulator(
        state_dir=state_dir,
        process=process,
        base_url=info["base_url"],
        port=int(info["port"]),
        ca_file=Path(info["ca_file"]),
        tenant_id=info["tenant_id"],
        subscription_id=info["subscription_id"],
    )


class EmulatorFactory:
    """Starts emulators for one test and stops every one it started at teardown."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.started: list[RunningEmulator] = []

    def __call__(self, *flags: str, state_dir: Path | None = None) -> RunningEmulator:
        emu = start_emulator(state_dir or self.base / f"emu{len(self.started)}", *flags)
        self.started.append(emu)
        return emu

    def close(self) -> None:
        for emu in self.started:
            if emu.alive():
                emu.stop()


def session_emulator(tmp_root: Path) -> Iterator[RunningEmulator]:
    emu = start_emulator(tmp_root / "state", "--apim-create-seconds", "0.3", "--page-size", "3")
    try:
        yield emu
    finally:
        emu.stop()
