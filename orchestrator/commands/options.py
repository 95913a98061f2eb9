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


def output_option() -> Callable[[F], F]:
    """``--output text|json`` (and ``--json``, its short form), passed as ``output``.

    In JSON mode stdout carries exactly one JSON document, also when the command fails
    (``cli.main`` reads the same flags from the command line to print the diagnostics)."""

    def both(func: F) -> F:
        func = click.option(
            "--json",
            "output",
            flag_value="json",
            help="Same as --output json.",
        )(func)
        return click.option(
            "--output",
            "output",
            type=click.Choice(["text", "json"]),
            default="text",
            show_default=True,
            help="json: one machine-readable document on stdout (docs/json-output.md).",
        )(func)

    return both
