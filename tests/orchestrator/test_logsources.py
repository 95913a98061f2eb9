"""``prmlab logs``: the local lab's logs found, formatted, health checks left out, redacted, followed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator import logsources
from orchestrator.cli import main
from orchestrator.target import state_dir_for

SERVER = (
    "2026-12-07 12:00:00 INFO mcp_server: started\n"
    'INFO:     127.0.0.1:5000 - "GET /health HTTP/1.1" 200 OK\n'
    'INFO:     127.0.0.1:5001 - "POST /mcp HTTP/1.1" 200 OK\n'
    'INFO:     127.0.0.1:5002 - "GET /health HTTP/1.1" 200 OK\n'
    "2026-12-07 12:00:01 ERROR x: headers {'Authorization': 'Bearer leaked-bearer-token'}\n"
)
GATEWAY = [
    {
        "ts": 1,
        "service": "apim-t",
        "method": "POST",
        "path": "/mcp",
        "status": 401,
        "duration_ms": 2.5,
        "api": "mcp",
        "operation": "post",
    },
    {
        "ts": 2,
        "service": "apim-t",
        "method": "GET",
        "path": "/nowhere",
        "status": 404,
        "duration_ms": 0.3,
        "api": None,
        "operation": None,
    },
]


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    lab = tmp_path / "lab.yaml"
    lab.write_text("name: t\n", encoding="utf-8")  # only its folder matters
    state = state_dir_for(lab)
    (state / "apps").mkdir(parents=True)
    (state / "apps" / "mcp-server.log").write_text(SERVER, encoding="utf-8")
    (state / "gateway.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GATEWAY), encoding="utf-8")
    (state / "emulator.log").write_text("emulator: ready on https://127.0.0.1:4443\n", encoding="utf-8")
    return lab


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    assert isinstance(exited.value.code, int)
    return exited.value.code, out, err


def test_server_log_without_health_checks_and_redacted(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["logs", "server", "--file", str(lab)], capsys)
    assert code == 0
    assert "/health" not in out
    assert '"POST /mcp HTTP/1.1" 200' in out
    assert "leaked-bearer-token" not in out
    assert len(out.splitlines()) == 3
    code, everything, _ = run(["logs", "server", "--all", "--file", str(lab)], capsys)
    assert everything.count("GET /health") == 2


def test_gateway_access_log_is_one_line_per_request(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["logs", "gateway", "--file", str(lab)], capsys)
    assert code == 0
    first, second = out.splitlines()
    assert first.endswith("apim-t POST /mcp 401 2.5ms api mcp/post")
    assert second.endswith("apim-t GET /nowhere 404 0.3ms no API matched")


def test_every_log_is_prefixed_with_its_source(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["logs", "-n", "1", "--file", str(lab)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert [line.split(" | ")[0] for line in lines] == ["server", "gateway", "emulator"]
    assert lines[2] == "emulator | emulator: ready on https://127.0.0.1:4443"


def test_no_log_yet_says_where_it_looked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["logs", "gateway", "--file", str(tmp_path / "lab.yaml")], capsys)
    assert (code, out) == (1, "")
    assert "no gateway log yet in" in err


def test_follow_yields_appended_lines_of_every_log(lab: Path) -> None:
    state = state_dir_for(lab)
    stream = logsources.follow(logsources.files(state, None), everything=False, poll=0.01)
    # follow has opened every file at its end: what is appended now is what it yields
    with (state / "apps" / "mcp-server.log").open("a", encoding="utf-8") as f:
        f.write('INFO:     127.0.0.1:5003 - "GET /health HTTP/1.1" 200 OK\nserver line\n')
    with (state / "gateway.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps({**GATEWAY[0], "path": "/later"}) + "\n")
    got = [next(stream), next(stream)]
    stream.close()
    assert (got[0][0].source, got[0][1]) == ("server", "server line")
    assert got[1][0].source == "gateway"
    assert "/later 401" in got[1][1]


def test_metrics_are_one_line_per_value(lab: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from emulator.gateway.services import METRICS_FILE

    assert logsources.METRICS_LOG == METRICS_FILE  # the file the gateways write
    record = {
        "timestamp": "2026-12-07T12:00:00Z",
        "namespace": "prmlab",
        "name": "Total Tokens",
        "value": 30,
        "estimated": True,
        "customDimensions": {"API ID": "llm", "Subscription ID": "team-a"},
        "component": "/subscriptions/0/resourceGroups/rg/providers/microsoft.insights/components/appi",
    }
    (state_dir_for(lab) / METRICS_FILE).write_text(json.dumps(record) + "\n", encoding="utf-8")
    code, out, _ = run(["logs", "metrics", "--file", str(lab)], capsys)
    assert (code, out.strip()) == (
        0,
        "2026-12-07T12:00:00Z prmlab Total Tokens = 30 (estimated) [API ID=llm, Subscription ID=team-a]",
    )
    code, out, _ = run(["logs", "-n", "1", "--file", str(lab)], capsys)
    assert [line.split(" | ")[0] for line in out.splitlines()] == ["server", "gateway", "emulator", "metrics"]
