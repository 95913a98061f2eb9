"""Start, stop and inspect the local Azure emulator as a background process.

Where it sits: ``prmlab local start|stop|status|logs`` (``orchestrator.commands.local``) and
``prmlab reconcile`` on a local target (``ensure_running``) call this module. The emulator
runs as ``python -m emulator --state-dir <state folder>`` (``target.state_dir_for``) in its own
session, writing ``emulator.log``; it publishes ``emulator.json`` (pid, port, base URL, CA, tenant and
subscription ids) once it answers, and this module only trusts that file when its pid is
the emulator of that folder and ``/_emulator/health`` answers over TLS with the state folder's CA.

Which process is the emulator of a state folder is decided by what it holds, never by its name
or by the pid files: the emulator holds an exclusive ``flock`` on ``<state>/emulator.lock`` for
its whole life (``emulator.__main__``), and ``lock_holder`` asks the kernel who holds it
(``/proc/locks``; elsewhere a non-blocking probe plus the pid the holder wrote into the file).
So a missing or stale ``emulator.json``/``emulator.pid`` can neither hide a running emulator
nor point ``stop`` at an unrelated process that reuses an old pid.

The state folder is private (0700, files 0600): it holds the emulator's secrets.

Import-light on purpose (stdlib only at import time): ``prmlab --help`` and ``reconcile``'s
start-up stay fast. Errors are ``EmulatorError`` with one clear sentence.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import signal
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from orchestrator.errors import EmulatorError

INFO_FILE = "emulator.json"
PID_FILE = "emulator.pid"
LOG_FILE = "emulator.log"
REQUEST_LOG = "requests.jsonl"
# custom metrics the local gateways emit (llm-emit-token-metric; emulator.gateway.services.METRICS_FILE)
METRICS_LOG = "customMetrics.jsonl"
EXIT_PORT_TAKEN = 3  # emulator.__main__.EXIT_PORT_TAKEN (not imported: keep this module light)
EXIT_STATE_LOCKED = 4  # emulator.__main__.EXIT_STATE_LOCKED
START_LOCK = "emulator.start.lock"
EMULATOR_LOCK = "emulator.lock"  # emulator.__main__.LOCK_FILE: flock'ed by the emulator for its life
EXIT_STATE_CORRUPT = 5  # emulator.__main__.EXIT_STATE_CORRUPT: its message is the log's last line
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class EmulatorInfo:
    pid: int
    port: int
    base_url: str
    ca_file: Path
    tenant_id: str
    subscription_id: str
    state_dir: Path
    # ARM's token buckets as the emulator was started with them: op type -> (size, refill/s);
    # empty when its throttling is off (the reconcile's pacer models these, see target.py)
    arm_buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    # the idle keep-alive of its container apps (None: an emulator that does not say)
    app_keep_alive_s: float | None = None


def _positive(value: object) -> float | None:
    """A positive number of seconds from ``emulator.json``, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)


def _arm_buckets(data: object) -> dict[str, tuple[float, float]]:
    if not isinstance(data, dict) or not data.get("enabled"):
        return {}
    out: dict[str, tuple[float, float]] = {}
    for op in ("reads", "writes", "deletes"):
        bucket = data.get(op)
        if isinstance(bucket, dict):
            out[op] = (float(bucket["size"]), float(bucket["refill"]))
    return out


@dataclass(frozen=True, slots=True)
class Status:
    state: Literal["running", "stopped", "dead", "unhealthy"]
    info: EmulatorInfo | None
    pid: int | None
    message: str


# ------------------------------------------------------------------ process helpers


def _alive(pid: int) -> bool:
    """True when ``pid`` runs (reaps it first when it is our exited child; zombies are dead)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return False
    return True


def ensure_state_dir(state_dir: Path) -> Path:
    """Create the state folder private (0700), or make an existing one private: it holds the
    emulator's secrets (``emulator.statedir`` keeps what is inside private)."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    return state_dir


def _open_private(path: Path, flags: int) -> int:
    """``os.open`` creating the file 0600 (whatever the umask), and tightening an existing one."""
    fd = os.open(path, flags | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    return fd


def _kernel_lock_holders(dev: int, ino: int) -> list[int] | None:
    """Pids holding a lock on the file ``(dev, ino)`` as ``/proc/locks`` lists them (holders only,
    not waiters); None where the kernel does not publish ``/proc/locks`` (not Linux)."""
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    want = (os.major(dev), os.minor(dev), ino)
    pids: list[int] = []
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5712362 0 EOF"; waiters read "1: -> FLOCK ..."
        parts = line.split()
        if len(parts) < 6 or parts[1] == "->":
            continue
        try:
            major, minor, inode = parts[5].split(":")
            where = (int(major, 16), int(minor, 16), int(inode))
            pid = int(parts[4])
        except ValueError:
            continue
        if where == want and pid > 0:
            pids.append(pid)
    return pids


def lock_holder(state_dir: Path) -> int | None:
    """The pid of the process that holds ``<state_dir>/emulator.lock`` (the emulator of this
    folder), or None when nobody holds it."""
    try:
        fd = os.open(state_dir / EMULATOR_LOCK, os.O_RDONLY)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        pids = _kernel_lock_holders(st.st_dev, st.st_ino)
        if pids is not None:
            return next((pid for pid in pids if _alive(pid)), None)
        # No /proc/locks: probe (a shared lock is refused while the emulator holds its exclusive
        # one), then trust the pid the holder wrote after it took the lock.
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return int(os.pread(fd, 32, 0).decode("ascii", "replace").strip())
            except ValueError:
                return None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def read_info(state_dir: Path) -> EmulatorInfo | None:
    try:
        data = json.loads((state_dir / INFO_FILE).read_text())
        return EmulatorInfo(
            pid=int(data["pid"]),
            port=int(data["port"]),
            base_url=str(data["base_url"]).rstrip("/"),
            ca_file=Path(data["ca_file"]),
            tenant_id=str(data["tenant_id"]),
            subscription_id=str(data["subscription_id"]),
            state_dir=state_dir,
            arm_buckets=_arm_buckets(data.get("arm_throttling")),
            app_keep_alive_s=_positive(data.get("app_keep_alive_s")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_pid(state_dir: Path) -> int | None:
    try:
        return int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def health(info: EmulatorInfo, timeout: float = 2.0) -> dict[str, object] | None:
    """``GET /_emulator/health`` over TLS trusting only the state folder's CA; None if no answer
    from that very process."""
    try:
        ctx = ssl.create_default_context(cafile=str(info.ca_file))
        conn = http.client.HTTPSConnection("127.0.0.1", info.port, context=ctx, timeout=timeout)
        try:
            conn.request("GET", "/_emulator/health")
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
    except (OSError, ssl.SSLError, http.client.HTTPException):
        return None
    if response.status != 200:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("pid") != info.pid:
        return None
    return data


def healthy(info: EmulatorInfo, timeout: float = 2.0) -> bool:
    return health(info, timeout) is not None


def status(state_dir: Path) -> Status:
    holder = lock_holder(state_dir)
    info = read_info(state_dir)
    if holder is None:
        pid = info.pid if info else _read_pid(state_dir)
        if pid is None:
            return Status("stopped", None, None, "the emulator is not running")
        return Status(
            "dead", None, pid, f"the emulator (pid {pid}) is not running any more; see {state_dir / LOG_FILE}"
        )
    pid = holder
    if info is None or info.pid != pid:
        return Status(
            "unhealthy",
            None,
            pid,
            f"an emulator (pid {pid}) holds {state_dir / EMULATOR_LOCK} but has not published emulator.json",
        )
    answer = health(info)
    if answer is None:
        return Status("unhealthy", info, pid, f"the emulator (pid {pid}) does not answer on {info.base_url}")
    message = f"the emulator is running at {info.base_url} (pid {pid})"
    failed = answer.get("failed")
    if isinstance(failed, dict) and failed:
        parts = "; ".join(f"{k}: {v}" for k, v in failed.items())
        message += f", degraded ({parts}; see {state_dir / LOG_FILE})"
    return Status("running", info, pid, message)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# ------------------------------------------------------------------ start / stop


def _spawn(argv: list[str], log_path: Path) -> int:
    """Run ``argv`` in its own session (survives the CLI; Ctrl-C in the terminal does not reach
    it), stdin from /dev/null, stdout+stderr appended to ``log_path``; returns the pid."""
    repo = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["PYTHONPATH"] = repo + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)


def _exit_code(pid: int) -> int | None:
    """The exit code of our child ``pid`` once it has exited (reaping it), else None."""
    try:
        done, status_ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None if _alive(pid) else 1
    if done == 0:
        return None
    return os.waitstatus_to_exitcode(status_)


def start(
    state_dir: Path,
    *,
    port: int = 0,
    args: tuple[str, ...] = (),
    timeout: float = START_TIMEOUT_S,
    while_starting: Callable[[], None] | None = None,
) -> EmulatorInfo:
    """Start the emulator in the background (or return the running one) and wait until it answers.
    ``while_starting`` runs once, in this process, right after a new emulator is spawned and
    before it is polled: the caller's own start-up work (``orchestrator.warmup``) overlapped with
    the emulator's; it does not run when the emulator was already running.

    Two callers at once (two ``prmlab`` commands) serialise on ``emulator.start.lock``: the
    second finds the first one's emulator running."""
    ensure_state_dir(state_dir)
    fd = _open_private(state_dir / START_LOCK, os.O_WRONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return _start_locked(state_dir, port, args, timeout, while_starting)
    finally:
        os.close(fd)


def _start_locked(
    state_dir: Path,
    port: int,
    args: tuple[str, ...],
    timeout: float,
    while_starting: Callable[[], None] | None = None,
) -> EmulatorInfo:
    current = status(state_dir)
    if current.state == "running" and current.info is not None:
        return current.info
    if current.state == "unhealthy":
        stop(state_dir)  # hung, or its emulator.json is gone: replace it
    (state_dir / INFO_FILE).unlink(missing_ok=True)
    log_path = state_dir / LOG_FILE
    argv = [
        sys.executable,
        "-m",
        "emulator",
        "--state-dir",
        str(state_dir),
        *(["--port", str(port)] if port else []),
        *args,
    ]
    with log_path.open("ab") as log:
        log.write(f"\n--- starting: {' '.join(argv[1:])} ({time.strftime('%Y-%m-%d %H:%M:%S')})\n".encode())
    pid = _spawn(argv, log_path)
    pid_fd = _open_private(state_dir / PID_FILE, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(pid_fd, "w") as pid_file:
        pid_file.write(f"{pid}\n")
    if while_starting is not None:
        while_starting()  # before the deadline starts: the timeout bounds the emulator's start
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = _exit_code(pid)
        if code is not None:
            (state_dir / PID_FILE).unlink(missing_ok=True)
            if code == EXIT_STATE_LOCKED:
                other = lock_holder(state_dir)
                who = f" (pid {other})" if other else ""
                raise EmulatorError(
                    f"another emulator process{who} already runs on {state_dir}; stop it with `prmlab local stop`"
                )
            if code == EXIT_STATE_CORRUPT:
                raise EmulatorError(
                    _last_emulator_line(log_path) or f"the emulator's state in {state_dir} is unreadable"
                )
            if code == EXIT_PORT_TAKEN:
                raise EmulatorError(
                    f"cannot start the emulator: port {port} on 127.0.0.1 is already in use (choose another with --port)"
                )
            raise EmulatorError(
                f"the emulator exited during start-up (exit code {code}); last lines of {log_path}:\n{_tail(log_path, 15)}"
            )
        info = read_info(state_dir)
        if info is not None and info.pid == pid and healthy(info):
            return info
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    (state_dir / PID_FILE).unlink(missing_ok=True)
    raise EmulatorError(f"the emulator did not answer within {timeout:.0f} s; see {log_path}")


def stop(state_dir: Path, timeout: float = STOP_TIMEOUT_S) -> int | None:
    """Stop the emulator of ``state_dir`` — the process holding its ``emulator.lock``, whatever
    the pid files say — with SIGTERM, then SIGKILL after ``timeout``; returns the pid stopped."""
    pid = lock_holder(state_dir)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
    (state_dir / PID_FILE).unlink(missing_ok=True)
    (state_dir / INFO_FILE).unlink(missing_ok=True)
    return pid


def ensure_running(state_dir: Path, while_starting: Callable[[], None] | None = None) -> EmulatorInfo:
    """What ``prmlab reconcile`` calls on a local target: the running emulator, started if needed
    (``while_starting``: see ``start``)."""
    return start(state_dir, while_starting=while_starting)


# ------------------------------------------------------------------ logs


def follow(path: Path, poll: float = 0.25) -> Iterator[str]:
    """Yield lines appended to ``path`` from now on (until the caller stops iterating)."""
    with path.open("r", errors="replace") as f:
        f.seek(0, os.SEEK_END)
        while True:
            line = f.readline()
            if line:
                yield line.rstrip("\n")
            else:
                time.sleep(poll)


def tail(path: Path, lines: int) -> str:
    return _tail(path, lines)


def _last_emulator_line(log_path: Path) -> str | None:
    """The emulator's own last message (``emulator: ...``) in its log, without the prefix."""
    for line in reversed(_tail(log_path, 50).splitlines()):
        if line.startswith("emulator: "):
            return line.removeprefix("emulator: ")
    return None
