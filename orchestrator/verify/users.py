"""Test users of the local target: created in the local directory through Microsoft Graph.

Local target only: on Azure the people who sign in already exist in the tenant. Users are
found by ``userPrincipalName`` and created when missing (``POST /users``), through the same
msgraph SDK client the providers use, so the local Graph is driven as Azure's would be.

Failures go through the providers' translation (``providers.errors.translating``) and the shared
retry policy (``retry.call_with_retry``), as every provider call does: a throttled or failing Graph
(429, 5xx, a dropped connection) is retried, honouring ``Retry-After``; the find-then-create step
is idempotent, so a retry after a create whose answer was lost finds the user instead of making
a second one. What still fails is one ``PrmlabError`` naming the user, never a traceback.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import anyio

from orchestrator.errors import ResourceError, TargetError
from orchestrator.providers.errors import translating
from orchestrator.retry import DEFAULT_POLICY, RetryPolicy, Sleep, call_with_retry

if TYPE_CHECKING:
    from msgraph import GraphServiceClient

    from orchestrator.spec.models import Lab, TestUser


async def ensure_test_users(
    graph: GraphServiceClient, lab: Lab, *, policy: RetryPolicy = DEFAULT_POLICY, sleep: Sleep | None = None
) -> int:
    """Create the lab's missing test users; returns how many were created."""
    created = 0
    for spec in lab.verification.test_users:
        resource = f"test user {spec.user_principal_name}"

        secret = [spec.password.get_secret_value()] if spec.password is not None else []

        async def once(spec: TestUser = spec, resource: str = resource, secret: list[str] = secret) -> bool:
            with translating(resource, secrets=secret):
                return await _ensure_one(graph, spec)

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
        created += made
    return created


async def _ensure_one(graph: GraphServiceClient, spec: TestUser) -> bool:
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
    password = spec.password.get_secret_value() if spec.password is not None else secrets.token_urlsafe(18)
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
