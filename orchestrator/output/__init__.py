"""Rendering of a reconcile for people and machines: the plan, live progress, the summary, JSON.

Flow: ``engine`` builds a ``Plan`` -> ``plan_text.render_plan`` (or ``json_doc``) prints it ->
``apply`` emits ``ProgressEvent``s -> ``progress`` shows them -> ``summary.render_summary``.
Everything here is pure string building except ``progress`` (writes to a stream); values go
through ``values.show`` so ``UNKNOWN`` prints as ``(known after apply)`` and a ``Secret`` as
``(sensitive)`` — a secret value never reaches any output.
"""
