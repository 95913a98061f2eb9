"""Verification: prove a deployed lab works, with a real MCP client and real HTTP.

Runs after every reconcile that applied (and as ``prmlab verify``). The flow mirrors what an
MCP client does against the lab, then attacks it:

1. ``discovery``  — POST /mcp without a token: 401 + Bearer challenge with an absolute
   ``resource_metadata`` and ``scope``; PRM at the header's URL and at the path-inserted
   well-known URL (``resource`` byte-identical to the MCP URL); authorization-server metadata
   found in the order the MCP spec gives, its issuer identical to the PRM's server.
2. ``client``     — the ``mcp`` SDK's ``OAuthClientProvider`` (strict ``validate_resource_url``)
   signs a test user in (headless on the local target), then initialize, tools/list and
   ``show_user_profile`` returning that user's Graph profile.
3. ``forged``     — a battery of forged and broken tokens that the gateway must refuse, and the
   server reached directly (around the gateway) must refuse too.

Each check is a named ``CheckResult``; ``Report.ok`` is false if any check failed or none passed.
"""

from orchestrator.verify.model import CheckResult, Outcome, Report, VerifyTarget
from orchestrator.verify.runner import run_verification

__all__ = ["CheckResult", "Outcome", "Report", "VerifyTarget", "run_verification"]
