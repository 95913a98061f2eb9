"""``prmlab trace [--api KEY] [METHOD] PATH [--token T]``: what the gateway did with one request.

Uses APIM's own request tracing through ARM (``orchestrator.tracing``), so it works on both
targets, and prints per scope (global -> api -> operation) and section each element that ran,
its decision (``validate-azure-ad-token: refused — audience mismatch``), the variables it set and
its timing (``output.trace_text``); ``--output json`` prints the trace document as ARM returned
it. Exit codes: 0 (whatever the request's status: the trace is the answer); 1 the target failed
or the request could not be traced; 2 lab.yaml is invalid or the API key unknown.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from orchestrator.commands.options import lab_file_option, output_option

HELP = """Send one request through the lab's gateway with APIM request tracing and print what
each policy element did: scope, section, decision (why a request got 401), variables, timing.

\b
prmlab trace POST /mcp                        no token: which element answered 401, and why
prmlab trace POST /mcp --token "$TOKEN"       a token: audience / scope checks, in order
prmlab trace --api oauth GET /oauth/.well-known/oauth-authorization-server

The token can also come from PRMLAB_TRACE_TOKEN (kept out of the shell history); it is never
printed. The debug credential lives five minutes and works for that one API only. An API that
needs a subscription key gets the primary key of the lab's subscription for it (or a product
holding it), read through ARM and never printed; --subscription names another, or none.
"""


@click.command("trace", help=HELP)
@click.argument("method_or_path")
@click.argument("path", required=False)
@click.option(
    "--api",
    "api_key",
    help="The lab.yaml key of the API to trace (default: the API whose path PATH is under).",
)
@click.option("--token", help="Bearer token to send (default: PRMLAB_TRACE_TOKEN, else none).")
@click.option("--data", help="Request body to send (e.g. a JSON-RPC message).")
@click.option(
    "--subscription",
    help="The lab.yaml key of the subscription whose key to send, or 'none' (default: the lab's "
    "subscription for the API when it needs a key).",
)
@lab_file_option("The lab whose gateway to trace.")
@output_option()
def command(
    method_or_path: str,
    path: str | None,
    api_key: str | None,
    token: str | None,
    data: str | None,
    subscription: str | None,
    lab_file: Path,
    output: str,
) -> int:
    import anyio

    from orchestrator.errors import PrmlabError
    from orchestrator.labfile import complete, load
    from orchestrator.output.trace_text import trace_text
    from orchestrator.target import TargetSettings
    from orchestrator.tracing import trace_request

    method, target_path = ("GET", method_or_path) if path is None else (method_or_path.upper(), path)
    lab, _graph = load(lab_file)
    if lab.apim is None:
        raise PrmlabError(f"lab {lab.name!r} has no apim section: there is no gateway to trace")
    apis = dict(lab.apim.apis)
    if api_key is None:
        under = [
            k
            for k, a in apis.items()
            if ("/" + target_path.lstrip("/")).startswith("/" + str(a.path).strip("/"))
        ]
        api_key = max(under, key=lambda k: len(str(apis[k].path))) if under else None
        if api_key is None:
            raise click.UsageError(
                f"no API of the lab serves {target_path}; name one with --api ({', '.join(apis)})"
            )
    elif api_key not in apis:
        raise click.UsageError(f"unknown API {api_key!r}: the lab's APIs are {', '.join(apis)}")
    from orchestrator.verify.subscriptions import needs_key, subscription_for

    if subscription is None:
        subscription = subscription_for(lab, api_key)
        if subscription is None and needs_key(lab, api_key):
            click.echo(
                f"API {api_key} needs a subscription key and no active subscription of the lab covers it: "
                "traced without one",
                err=True,
            )
    elif subscription == "none":
        subscription = None
    elif subscription not in lab.apim.subscriptions:
        known = ", ".join(lab.apim.subscriptions) or "none"
        raise click.UsageError(f"unknown subscription {subscription!r}: the lab's subscriptions are {known}")
    settings = TargetSettings.for_lab(lab)
    lab, _graph = complete(lab, settings.subscription_id)  # the derived global names
    service = lab.apim.service.name
    if service is None:  # complete() derives it; never reached
        raise PrmlabError("the API Management service has no name")
    traced = anyio.run(
        trace_request,
        settings,
        service,
        api_key,
        method,
        target_path,
        token or os.environ.get("PRMLAB_TRACE_TOKEN") or None,
        data.encode() if data is not None else None,
        subscription,
    )
    if output == "json":
        from orchestrator.output.json_doc import FORMAT_VERSION

        document = {
            "format_version": FORMAT_VERSION,
            "command": "trace",
            "lab": lab.name,
            "target": settings.kind,
            "request": {"method": method, "url": traced.url, "status": traced.status},
            "trace": traced.trace,  # Gateway_ListTrace's body, as ARM returned it
        }
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(trace_text(traced.trace, traced.status, method, traced.url), nl=False)
    return 0
