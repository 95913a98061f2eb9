"""Shared pytest fixtures; the implementations live in ``tests/support`` (keep this file small)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import azure_env
from tests.support.emulator import EmulatorFactory, RunningEmulator, session_emulator

# msgraph-sdk / kiota warn (DeprecationWarning) from class bodies at import time — every request
# builder module does, whoever imports it. Warnings are errors in this suite: ignore exactly these.
_SDK_IMPORT_WARNINGS = (
    "ignore:GetQueryParameters is deprecated:DeprecationWarning",
    "ignore:This class is deprecated. Please use the generic RequestConfiguration:DeprecationWarning",
)


def pytest_configure(config: pytest.Config) -> None:
    for line in _SDK_IMPORT_WARNINGS:
        config.addinivalue_line("filterwarnings", line)
    # Azure credentials built by any test (or a CLI it runs) reach nothing beyond 127.0.0.1
    azure_env.isolate(os.environ)


@pytest.fixture(scope="session")
def emulator_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """One emulator for the whole session (APIM create 0.3 s, page size 3, no ARM throttling)."""
    yield from session_emulator(tmp_path_factory.mktemp("emulator"))


@pytest.fixture
def emulator(emulator_session: RunningEmulator) -> Iterator[RunningEmulator]:
    """The session emulator, with faults and ARM throttling switched off before and after the test."""
    emulator_session.reset_faults()
    emulator_session.set_throttling(enabled=False, scale=1)
    yield emulator_session
    emulator_session.reset_faults()
    emulator_session.set_throttling(enabled=False, scale=1)


@pytest.fixture
def make_emulator(tmp_path: Path) -> Iterator[EmulatorFactory]:
    """Start private emulators (own state folder, own flags; ARM throttling off unless the flags
    say ``--arm-throttling on``); all are stopped at teardown."""
    factory = EmulatorFactory(tmp_path)
    yield factory
    factory.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
