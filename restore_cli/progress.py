"""The one rich progress bar the tool shows (batch runs and training): bar, n/total, elapsed, ETA."""

from __future__ import annotations

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
