"""Which API Management tier (SKU) changes Azure makes in place, and which need a new service
(pure; used by ``ApimServiceProvider.diff``, so the plan says ``-/+`` with the reason).

Azure's rules (Learn, "Upgrade and scale an Azure API Management instance",
https://learn.microsoft.com/azure/api-management/upgrade-and-scale, and "API Management v2
tiers", https://learn.microsoft.com/azure/api-management/v2-service-tiers-overview, FAQ "Can I
migrate from my existing API Management instance to a new v2 tier instance?"):

* "You can upgrade and downgrade to and from classic tiers (Developer, Basic, Standard and
  Premium)" — in place;
* "You can upgrade and downgrade to and from v2 tiers (Basic v2 and Standard v2)" — in place;
  Premium v2 is not named there, so a move between it and another v2 tier is taken as a new
  service (the safe reading: a replacement costs time, a refused update fails the apply);
* "Currently, you cannot upgrade from or downgrade to the Consumption tier";
* an existing instance of a classic tier (or Consumption) cannot become a v2 tier instance
  ("Currently the new tiers are available for newly created service instances only"), nor the
  reverse.

The emulator holds the same rules on its side (``emulator.arm.apim_service``) and refuses the
in-place changes Azure refuses.
"""

from __future__ import annotations

CLASSIC = frozenset({"developer", "basic", "standard", "premium"})
V2_IN_PLACE = frozenset({"basicv2", "standardv2"})
V2 = V2_IN_PLACE | {"premiumv2"}


def replacement_reason(old: str, new: str) -> str | None:
    """Why moving a service from tier ``old`` to ``new`` needs a new service, or None when Azure
    changes the tier in place (or the tier is the same)."""
    a, b = old.lower(), new.lower()
    if a == b or (a in CLASSIC and b in CLASSIC) or (a in V2_IN_PLACE and b in V2_IN_PLACE):
        return None
    if "consumption" in (a, b):
        return "Azure cannot move a service to or from the Consumption tier"
    if (a in CLASSIC) != (b in CLASSIC):
        return f"Azure does not move a service between the classic and v2 tiers ({old} -> {new})"
    return f"Azure changes v2 tiers in place only between BasicV2 and StandardV2 ({old} -> {new})"
