"""A warm interpreter for the next container app: ``python <this file>``, started by the runner
ahead of need (``process.WarmProcess``), becomes ``python -m mcp_server`` when told to.

Where it sits: run by path, not as ``emulator.runner.warm_start``, so that nothing of the
emulator is imported into the app's process (stdlib only here). Started with the interpreter
environment every app gets (``environment.interpreter_env``: ``PYTHONPATH``,
``PYTHONUNBUFFERED``… — the variables an interpreter reads once, at its start), in the apps'
working folder, in its own session. It imports the app's third-party dependencies (``PRELOAD``:
the ``mcp`` SDK and its pydantic models, uvicorn, starlette, httpx — about a second of CPU,
most of an app's start) and then reads one JSON line on stdin::

    {"module": "mcp_server", "env": {...}, "cwd": "...", "log": "..."}

and becomes that module's ``__main__`` as ``python -m`` would run it: output appended to
``log``, stdin from /dev/null, the app's whole environment in ``os.environ`` (the process's
initial environment block, ``/proc/<pid>/environ``, keeps the interpreter environment it was
started with), ``sys.path[0]`` the working folder, ``sys.argv`` without arguments. Nothing of
the app's own code is imported before that. End of input without a line (the runner dropped it,
or the emulator died): exit 0.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import runpy
import sys

# The app's third-party imports (mcp_server/app.py, auth.py, graph.py, __main__.py); one that
# is missing is the app's own import to report.
PRELOAD = (
    "anyio",
    "httpx",
    "jwt",
    "uvicorn",
    "starlette.applications",
    "starlette.requests",
    "starlette.responses",
    "mcp.server.auth.middleware.auth_context",
    "mcp.server.auth.provider",
    "mcp.server.auth.settings",
    "mcp.server.mcpserver",
    "mcp.server.transport_security",
    "azure.core.exceptions",
)


def _become(order: dict[str, object]) -> None:
    cwd = str(order["cwd"])
    env = order["env"]
    assert isinstance(env, dict)
    os.chdir(cwd)
    log = os.open(str(order["log"]), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in env.items()})
    sys.path[0] = os.getcwd()  # ``python -m`` puts the working folder first
    del sys.argv[1:]
    runpy.run_module(str(order["module"]), run_name="__main__", alter_sys=True)


def main() -> int:
    sys.path[0] = os.getcwd()  # not this file's folder: the app's path, as ``python -m`` has it
    for name in PRELOAD:
        with contextlib.suppress(Exception):  # the app's own import reports it, in its log
            importlib.import_module(name)
    line = sys.stdin.readline()
    if not line.strip():
        return 0
    _become(json.loads(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
