"""Free TCP ports on 127.0.0.1 for the per-resource listeners (APIM gateways, container apps).

Where it sits: the ARM layer calls ``allocate_port`` when it creates an APIM service or a
container app and writes the port into the resource (``properties.gatewayUrl`` /
``properties.configuration.ingress.fqdn``); the gateway and runner sub-apps later listen on it.
``bind_listener`` opens the main port of the emulator itself.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Collection

LOOPBACK = "127.0.0.1"
# How long the emulator's own listeners (main port, APIM gateways) keep an idle HTTP/1.1
# connection open: Azure's front ends keep idle connections for minutes (Azure Load Balancer's
# default TCP idle timeout is 4 minutes, learn.microsoft.com/azure/load-balancer/
# load-balancer-tcp-idle-timeout), not uvicorn's default 5 s. Every client pool of the project
# (httpx's 5 s, the gateway's outbound client, undici's 4 s) then drops an idle connection long
# before the server could close it: a server closing an idle connection just as a client sends
# on it ("Server disconnected without sending a response") cannot happen, whatever the load.
# Backends (container apps) keep their own timeouts: the gateway's upstream pool handles those.
SERVER_KEEP_ALIVE_S = 240
# How long a local container app (the MCP server) keeps an idle connection: the runner sets it
# (``HTTP_KEEP_ALIVE_S``) and ``emulator.json`` publishes it, so that the verifier's ``idle.burst``
# check idles just past it (3 s instead of 6 s behind uvicorn's default 5 s), still longer than
# the backend's keep-alive, which is what the check needs. The gateway's upstream pool drops
# idle connections well before (``gateway.upstream.KEEPALIVE_EXPIRY_S``, a second less at least).
APP_KEEP_ALIVE_S = 2


class PortInUseError(OSError):
    """The requested port on 127.0.0.1 is already taken by another process."""


def bind_listener(port: int) -> socket.socket:
    """A listening TCP socket on 127.0.0.1:``port`` (0 = any free port)."""
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when proto says TCP
    # (without it every response waits ~40 ms for a delayed ACK)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, port))
        sock.listen(512)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(exc.errno, f"port {port} on {LOOPBACK} is already in use") from exc
        raise
    sock.set_inheritable(False)
    return sock


def allocate_port(taken: Collection[int] = ()) -> int:
    """A port on 127.0.0.1 that is free now and not in ``taken`` (ports already handed out)."""
    for _ in range(64):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            return port
    raise OSError("no free port found on 127.0.0.1")


def is_free(port: int) -> bool:
    """Whether 127.0.0.1:``port`` can be listened on now (nobody else holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True
