"""Live progress: reading the target, then per resource while the executor runs.

Flow: ``engine`` opens ``read_reporter`` around ``engine.read_all`` (``on_read`` per kind read:
on a terminal a live line "reading the target: 7/20 kinds, 12 resources", otherwise one line
when the read starts and one when it is done), then a reporter around ``apply.apply_plan`` and
passes ``reporter.on_event`` as the executor's event callback. On a terminal: a rich progress bar with one line printed per
finished resource (rich is imported lazily, only then). Otherwise: plain lines, one per event, so
logs and CI output stay readable. Unchanged resources are not listed (the summary counts them).
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, TextIO

from orchestrator.apply import EventKind, ProgressEvent, Status
from orchestrator.resource import Action

_DOING = {
    Action.CREATE: "creating",
    Action.UPDATE: "updating",
    Action.REPLACE: "replacing",
    Action.DELETE: "deleting",
    Action.NOOP: "updating",  # a no-op whose references changed
}
_MARK = {
    Status.CREATED: "+",
    Status.UPDATED: "~",
    Status.REPLACED: "-/+",
    Status.DELETED: "-",
    Status.UNCHANGED: "=",
    Status.FAILED: "!",
    Status.SKIPPED: "…",
    Status.CANCELLED: "x",
}


def event_line(event: ProgressEvent) -> str | None:
    """The plain-text line for one event (None when it is not worth a line)."""
    if event.kind is EventKind.STARTED:
        if event.action is Action.NOOP:  # written only if its references changed: its end says
            return None
        return f"  {event.address}: {_DOING[event.action]}…"
    if event.kind is EventKind.WAITING:
        if event.attempt & (event.attempt - 1):  # the 1st, 2nd, 4th, 8th... probe: not every one
            return None
        return f"  {event.address}: waiting for {event.message}; probing again in {event.wait:.1f}s"
    if event.kind is EventKind.RETRYING:
        return f"  {event.address}: attempt {event.attempt} failed ({event.message}); retrying in {event.wait:.1f}s"
    outcome = event.outcome
    assert outcome is not None
    if outcome.status is Status.UNCHANGED and event.action is Action.NOOP:
        return None
    text = f"  {_MARK[outcome.status]} {outcome.address}: {outcome.status.value}"
    if outcome.status in (Status.FAILED, Status.SKIPPED, Status.CANCELLED) and outcome.message:
        return f"{text}: {outcome.message}"
    return f"{text} ({outcome.seconds:.1f}s)"


class PlainProgress:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stream.flush()

    def on_event(self, event: ProgressEvent) -> None:
        line = event_line(event)
        if line is not None:
            print(line, file=self.stream, flush=True)


class RichProgress:
    """A progress bar over the changes; finished resources printed above it."""

    def __init__(self, stream: TextIO, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(file=stream)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.task: Any = self.progress.add_task("applying", total=max(total, 1))
        self.running: set[str] = set()

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()

    def _describe(self) -> str:
        if not self.running:
            return "applying"
        first = sorted(self.running)[0]
        more = f" +{len(self.running) - 1}" if len(self.running) > 1 else ""
        return f"applying {first}{more}"

    def on_event(self, event: ProgressEvent) -> None:
        from rich.markup import escape

        if event.kind is EventKind.STARTED:
            self.running.add(event.address)
        elif event.kind is EventKind.FINISHED:
            self.running.discard(event.address)
            if event.action is not Action.NOOP:
                self.progress.advance(self.task)
        line = event_line(event)
        if line is not None and event.kind is not EventKind.STARTED:
            style = {"!": "red", "+": "green", "~": "yellow", "-": "red"}.get(line.strip()[:1], "")
            self.console.print(f"[{style}]{escape(line)}[/]" if style else escape(line), highlight=False)
        self.progress.update(self.task, description=self._describe())


def reporter(stream: TextIO, *, tty: bool, total: int) -> PlainProgress | RichProgress:
    return RichProgress(stream, total) if tty else PlainProgress(stream)


class ReadProgress:
    """The read step's progress: kinds read and resources found, as they come."""

    def __init__(self, stream: TextIO, *, tty: bool, kinds: int) -> None:
        self.stream = stream
        self.tty = tty
        self.kinds = kinds
        self.done = 0
        self.found = 0
        self.started = time.monotonic()
        self.status: Any = None

    def _line(self) -> str:
        return f"Reading the target: {self.done}/{self.kinds} kinds, {self.found} resources found"

    def __enter__(self) -> ReadProgress:
        if self.tty:
            from rich.console import Console

            self.status = Console(file=self.stream).status(self._line())
            self.status.start()
        else:
            print(f"Reading the target ({self.kinds} kinds)…", file=self.stream, flush=True)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.status is not None:
            self.status.stop()
        if exc_type is None:
            seconds = time.monotonic() - self.started
            print(
                f"Read {self.found} resources ({self.kinds} kinds) in {seconds:.1f}s.",
                file=self.stream,
                flush=True,
            )

    def on_read(self, kind: str, found: int) -> None:
        self.done += 1
        self.found += found
        if self.status is not None:
            self.status.update(self._line())


def read_reporter(stream: TextIO, *, tty: bool, kinds: int) -> ReadProgress:
    return ReadProgress(stream, tty=tty, kinds=kinds)
