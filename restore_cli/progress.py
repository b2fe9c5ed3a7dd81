"""The rich progress bar the tool shows (batch runs and training: bar, n/total, elapsed, ETA), and the tile
bar of one large image (:class:`TileProgress`, the engine's ``on_tile``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def progress_bar(console: Any, *, info_field: bool = False) -> Any:
    """A rich ``Progress`` on ``console`` (stderr in practice); ``info_field`` adds the task's ``info`` text.

    rich is imported here, not at module level, so importing this module costs nothing.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns: list[Any] = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    ]
    if info_field:
        columns.append(TextColumn("{task.fields[info]}"))
    return Progress(*columns, console=console, transient=False, redirect_stdout=False, redirect_stderr=False)


class TileProgress:
    """Tiles done / total for one large image, on stderr, shown only once an image has taken over a second.

    Called by the engine as ``on_tile(done, total)``; ``reset()`` marks the start of the next image. With a
    batch progress bar (``shared``) the tile bar is added to it, else a bar of its own is started on the
    console that ``console()`` returns (a stderr console by default).
    """

    DELAY_S = 1.0

    def __init__(
        self, *, enabled: bool, shared: Any = None, console: Callable[[], Any] | None = None
    ) -> None:
        self.console = console
        self.enabled = enabled
        self.shared = shared
        self.own: Any = None
        self.task: Any = None
        self.started = time.perf_counter()

    def reset(self) -> None:
        self._hide()
        self.started = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.task is None:
            if done >= total or time.perf_counter() - self.started < self.DELAY_S:
                return
            bar = self.shared
            if bar is None:
                self.own = bar = progress_bar(self._console())
                bar.start()
            self.task = bar.add_task("tiles", total=total)
        bar = self.shared if self.shared is not None else self.own
        bar.update(self.task, completed=done, total=total)
        if done >= total:
            self._hide()

    def _console(self) -> Any:
        if self.console is not None:
            return self.console()
        from rich.console import Console

        return Console(stderr=True, soft_wrap=True, highlight=False)

    def _hide(self) -> None:
        bar = self.shared if self.shared is not None else self.own
        if self.task is not None and bar is not None:
            bar.remove_task(self.task)
        self.task = None
        if self.own is not None:
            self.own.stop()
            self.own = None
