"""Test users of the local target: created in the local directory through Microsoft Graph.

Local target only: on Azure the people who sign in already exist in the tenant. Users are
found by ``userPrincipalName`` and created when missing (``POST /users``), through the same
msgraph SDK client the providers use, so the local Graph is driven as Azure's would be.
"""

from __future__ import annotations

import secrets
from typing import Any

from orchestrator.errors import TargetError


async def ensure_test_users(graph: Any, lab: Any) -> int:
    """Create the lab's missing test users; returns how many were created."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.user import User
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    created = 0
    for spec in lab.verification.test_users:
        upn = spec.user_principal_name
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=f"userPrincipalName eq '{upn.replace(chr(39), chr(39) * 2)}'", select=["id"]
        )
        try:
            found = await graph.users.get(request_configuration=RequestConfiguration(query_parameters=query))
            if found is not None and found.value:
                continue
            password = (
                spec.password.get_secret_value() if spec.password is not None else secrets.token_urlsafe(18)
            )
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
                    password_profile=PasswordProfile(
                        force_change_password_next_sign_in=False, password=password
                    ),
                )
            )
        except Exception as exc:  # kiota raises ODataError / httpx errors: translate at the boundary
            message = getattr(getattr(exc, "error", None), "message", None) or str(exc)
            raise TargetError(
                f"test user {upn}: could not be created in the local directory: {message}"
            ) from exc
        created += 1
    return created
