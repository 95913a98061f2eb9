"""Children that a test interrupts with SIGINT get SIGINT's default disposition back.

Where it sits: used by the tests that send Ctrl-C to a ``prmlab`` or engine process
(``tests/orchestrator/test_engine.py``, ``test_interrupted_destroy.py``). A shell without job
control starts a background command (``cmd &``) with SIGINT and SIGQUIT ignored, and an ignored
signal stays ignored across ``exec``: a suite started that way (``make test &`` in a script) had
children that never saw the SIGINT the test sent, and the test waited out its timeout. What the
test proves - Ctrl-C stops a run and prints its partial summary - does not depend on how the
suite was started, so the child starts with SIGINT as a terminal would deliver it.
"""

from __future__ import annotations

import signal


def sigint_default() -> None:
    """``preexec_fn`` for ``subprocess.Popen``: SIGINT back to its default in the child."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
