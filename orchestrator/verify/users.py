"""Test users of the local target: created in the local directory through Microsoft Graph.

Local target only: on Azure the people who sign in already exist in the tenant. Users are
found by ``userPrincipalName`` and created when missing (``POST /users``), through the same
msgraph SDK client the providers use, so the local Graph is driven as Azure's would be.

Failures go through the providers' translation (``providers.errors.translating``) and the shared
retry policy (``retry.call_with_retry``), as every provider call does: a throttled or failing Graph
(429, 5xx, a dropped connection) is retried, honouring ``Retry-After``; the find-then-create step
is idempotent, so a retry after a create whose answer was lost finds the user instead of making
a second one. What still fails is one ``PrmlabError`` naming the user, never a traceback.

The local sign-in page asks for the user's password (issue 17 item 11): it is the lab's
``password`` when given; otherwise one is generated and, so that a person can sign in (VS Code,
MCP Inspector), written to ``<state folder>/test-users.json`` (``PASSWORDS_FILE``, mode 0600,
``{"<upn>": "<password>"}``). It is never printed or logged.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from orchestrator.errors import ResourceError, TargetError
from orchestrator.providers.errors import translating
from orchestrator.retry import DEFAULT_POLICY, RetryPolicy, Sleep, call_with_retry

if TYPE_CHECKING:
    from msgraph import GraphServiceClient

    from orchestrator.spec.models import Lab, TestUser


PASSWORDS_FILE = "test-users.json"


async def ensure_test_users(
    graph: GraphServiceClient,
    lab: Lab,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Sleep | None = None,
    passwords_file: Path | None = None,
) -> int:
    """Create the lab's missing test users; returns how many were created. Generated passwords
    are recorded in ``passwords_file`` (when given)."""
    created = 0
    for spec in lab.verification.test_users:
        resource = f"test user {spec.user_principal_name}"

        secret = [spec.password.get_secret_value()] if spec.password is not None else []
        password = secret[0] if secret else secrets.token_urlsafe(18)

        async def once(spec: TestUser = spec, resource: str = resource, password: str = password) -> bool:
            with translating(resource, secrets=[password]):
                return await _ensure_one(graph, spec, password)

        try:
            made, _ = await call_with_retry(once, policy, sleep=sleep or anyio.sleep)
        except ResourceError as exc:  # refused, or still failing when the retries ran out
            raise TargetError(
                f"{exc.resource}: could not be created in the local directory: {exc.cause}"
            ) from exc
        except Exception as exc:  # an SDK failure the translation does not know: still one sentence
            raise TargetError(
                f"{resource}: could not be created in the local directory: {type(exc).__name__}: {exc}"
            ) from exc
        if made and not secret and passwords_file is not None:
            _record_password(passwords_file, spec.user_principal_name, password)
        created += made
    return created


def _record_password(path: Path, upn: str, password: str) -> None:
    """``{upn: password}`` merged into ``path``, written whole (0600) and renamed into place."""
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    known[upn] = password
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(known, out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(tmp, path)


async def _ensure_one(graph: GraphServiceClient, spec: TestUser, password: str) -> bool:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.user import User
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    upn = spec.user_principal_name
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        filter=f"userPrincipalName eq '{upn.replace(chr(39), chr(39) * 2)}'", select=["id"]
    )
    found = await graph.users.get(request_configuration=RequestConfiguration(query_parameters=query))
    if found is not None and found.value:
        return False
    await graph.users.post(
        User(
            account_enabled=True,
            user_principal_name=upn,
            display_name=spec.display_name,
            mail_nickname=upn.split("@", 1)[0],
            mail=spec.mail,
            job_title=spec.job_title,
            department=spec.department,
            office_location=spec.office_location,
            password_profile=PasswordProfile(force_change_password_next_sign_in=False, password=password),
        )
    )
    return True
