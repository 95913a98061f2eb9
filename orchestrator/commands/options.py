"""Options the subcommands share (click only: imported when a subcommand is)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable[..., object])


def lab_file_option(help: str) -> Callable[[F], F]:
    """``-f/--file LAB`` (default ``lab.yaml``), passed as ``lab_file``."""
    return click.option(
        "-f",
        "--file",
        "lab_file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path("lab.yaml"),
        show_default=True,
        help=help,
    )
