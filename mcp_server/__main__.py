"""``python -m mcp_server``: read the environment, serve the app with uvicorn.

Binds ``HOST`` (default 127.0.0.1; only the container image sets 0.0.0.0) on ``PORT``, over
HTTPS when ``TLS_CERT_FILE``/``TLS_KEY_FILE`` are set (the emulator's runner does so).
"""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from mcp_server.app import build_app, production_dependencies
from mcp_server.config import ConfigError, Settings
from mcp_server.redact import redact_stdio


def main() -> int:
    # First: uvicorn's access log writes every request line, query string included
    # (/auth/callback?code=...), through the handlers configured below on these streams.
    redact_stdio()
    env = dict(os.environ)
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        print(f"mcp_server: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.log_level != "DEBUG":
        # Per-request HTTP dumps of azure-core and httpx: noise (secrets are redacted either way).
        for noisy in ("azure", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    app = build_app(settings, production_dependencies(settings, env))
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
        ssl_keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
        server_header=False,
        lifespan="on",
        timeout_keep_alive=settings.keep_alive_s,
        # Open streams (SSE GETs) must not hold a SIGTERM up: the runner waits only a few seconds.
        timeout_graceful_shutdown=3,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
