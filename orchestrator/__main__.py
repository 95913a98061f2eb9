"""``python -m orchestrator`` is ``prmlab``."""

from orchestrator.cli import main

main()
