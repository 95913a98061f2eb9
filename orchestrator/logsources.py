"""Where the local target's logs are and how ``prmlab logs`` shows them (file reading, no network).

Sources, all in the lab's state folder (``<lab dir>/.prmlab/``):

* ``server``   — the MCP server's output, ``apps/<container app>.log`` (the runner writes it);
* ``gateway``  — the gateways' access log, ``gateway.jsonl`` (``emulator.gateway.accesslog``: one
  JSON line per request: method, path, status, duration, the API and operation that matched),
  shown as one text line each;
* ``emulator`` — the emulator's own log, ``emulator.log``;
* ``metrics``  — the custom metrics the gateways sent to the service's Application Insights,
  ``customMetrics.jsonl`` (``llm-emit-token-metric``: Total/Prompt/Completion Tokens with their
  dimensions), one text line each.

Noise is left out unless asked for (``--all``): the liveness probes the runner sends to the MCP
server's ``/health`` every 10 s, and the readiness polls while it starts. Every line goes through
``redaction.redact`` on the way out (a log written before redaction existed may hold credentials).
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from redaction import redact

SOURCES = ("server", "gateway", "emulator", "metrics")
METRICS_LOG = "customMetrics.jsonl"  # emulator.gateway.services.METRICS_FILE (by name: no emulator import)
GATEWAY_LOG = "gateway.jsonl"  # emulator.gateway.accesslog.ACCESS_LOG (by name: no emulator import)
APPS_DIR = "apps"  # emulator.runner.supervisor.APPS_DIR
EMULATOR_LOG = "emulator.log"  # orchestrator.local.LOG_FILE

# A health probe in an uvicorn access line: `"GET /health HTTP/1.1" 200`.
_HEALTH = ('"GET /health ', '"GET /health?', '"GET /_emulator/health ')


@dataclass(frozen=True, slots=True)
class LogFile:
    source: str  # server | gateway | emulator
    label: str  # what a line is prefixed with when several files are shown
    path: Path


def files(state_dir: Path, source: str | None) -> list[LogFile]:
    """The log files of ``source`` (every source when None) that exist."""
    found: list[LogFile] = []
    for name in SOURCES if source is None else (source,):
        if name == "server":
            apps = sorted((state_dir / APPS_DIR).glob("*.log")) if (state_dir / APPS_DIR).is_dir() else []
            found += [LogFile("server", f"server {p.stem}" if len(apps) > 1 else "server", p) for p in apps]
        elif name == "gateway":
            path = state_dir / GATEWAY_LOG
            found += [LogFile("gateway", "gateway", path)] if path.exists() else []
        elif name == "metrics":
            path = state_dir / METRICS_LOG
            found += [LogFile("metrics", "metrics", path)] if path.exists() else []
        else:
            path = state_dir / EMULATOR_LOG
            found += [LogFile("emulator", "emulator", path)] if path.exists() else []
    return found


def is_noise(line: str) -> bool:
    return any(marker in line for marker in _HEALTH)


def gateway_line(raw: str) -> str:
    """One access-log record as text: time, service, method, path, status, duration, route."""
    try:
        record = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(record, dict):
        return raw
    when = datetime.fromtimestamp(float(record.get("ts") or 0)).strftime("%Y-%m-%d %H:%M:%S")
    status = record.get("status")
    route = record.get("api")
    if route is not None and record.get("operation") is not None:
        route = f"{route}/{record['operation']}"
    return (
        f"{when} {record.get('service', '?')} {record.get('method', '?')} {record.get('path', '?')} "
        f"{status if status is not None else '(client gone)'} {record.get('duration_ms', '?')}ms "
        f"{'api ' + str(route) if route is not None else 'no API matched'}"
    )


def metrics_line(raw: str) -> str:
    """One custom metric as text: time, namespace, name = value, its dimensions."""
    try:
        record = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(record, dict):
        return raw
    raw_dims = record.get("customDimensions")
    dims: dict[str, object] = raw_dims if isinstance(raw_dims, dict) else {}
    shown_dims = ", ".join(f"{k}={v}" for k, v in sorted(dims.items()))
    estimated = " (estimated)" if record.get("estimated") else ""
    return (
        f"{record.get('timestamp', '?')} {record.get('namespace', '?')} {record.get('name', '?')} = "
        f"{record.get('value', '?')}{estimated} [{shown_dims}]"
    )


def shown(log: LogFile, line: str, *, everything: bool) -> str | None:
    """The line as printed (None: noise left out)."""
    if log.source == "gateway":
        return redact(gateway_line(line))
    if log.source == "metrics":
        return redact(metrics_line(line))
    if not everything and is_noise(line):
        return None
    return redact(line)


def last_lines(log: LogFile, count: int, *, everything: bool) -> list[str]:
    """The last ``count`` lines worth showing (noise is skipped before counting)."""
    kept: list[str] = []
    with log.path.open("r", encoding="utf-8", errors="replace") as f:
        for raw in f:
            line = shown(log, raw.rstrip("\n"), everything=everything)
            if line is not None:
                kept.append(line)
                if len(kept) > count:
                    del kept[0]
    return kept


def follow(
    logs: Sequence[LogFile], *, everything: bool, poll: float = 0.25
) -> Generator[tuple[LogFile, str]]:
    """Lines appended to any of ``logs`` from now on (the files are opened at their end before
    this returns), as they come, until the caller stops iterating."""
    handles: list[tuple[LogFile, IO[str]]] = []
    for log in logs:
        f = log.path.open("r", encoding="utf-8", errors="replace")
        f.seek(0, 2)
        handles.append((log, f))
    return _appended(handles, everything, poll)


def _appended(
    handles: list[tuple[LogFile, IO[str]]], everything: bool, poll: float
) -> Generator[tuple[LogFile, str]]:
    try:
        while True:
            got = False
            for log, f in handles:
                raw = f.readline()
                while raw:
                    got = True
                    line = shown(log, raw.rstrip("\n"), everything=everything)
                    if line is not None:
                        yield log, line
                    raw = f.readline()
            if not got:
                time.sleep(poll)
    finally:
        for _, f in handles:
            f.close()
