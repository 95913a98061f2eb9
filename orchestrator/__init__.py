"""prmlab's orchestrator: load lab.yaml, plan, apply, verify.

Flow: ``spec`` (load + validate lab.yaml) -> ``graph`` (resources and references)
-> ``providers`` (read actual state through the Azure SDKs) -> ``plan`` (pure diff)
-> ``apply`` (anyio DAG executor) -> ``verify`` (the MCP authorization flow).
``cli`` is the only module that prints; everything else returns data or raises
an error from ``orchestrator.errors``.
"""
