"""A rich live view of a training run on stderr: progress, loss, lr, it/s, ETA and the last val PSNR."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from restore_cli.progress import progress_bar


class RichReporter:
    """Implements the trainer's Reporter protocol with a rich progress bar (stderr, so stdout stays clean)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress: Any = None
        self.task = None
        self.by_time = False
        self.time_limit_s = 0.0
        self.first_iter = 0

    def start(self, first_iter: int, total_iters: int, time_limit_s: float, info: str) -> None:
        self.first_iter = first_iter
        self.time_limit_s = time_limit_s
        self.console.print(f"[bold]training[/bold] {info}")
        self.progress = progress_bar(self.console, info_field=True)
        self.by_time = total_iters <= 0
        total = total_iters if total_iters > 0 else None
        self.progress.start()
        self.task = self.progress.add_task("train", total=total, completed=first_iter, info="")

    def step(self, iteration: int, stats: dict[str, Any]) -> None:
        if self.progress is None:
            return
        val = stats.get("val_psnr")
        info = f"loss {stats['loss']:.4f}  lr {stats['lr']:.2e}  {stats['it_s']:.2f} it/s" + (
            f"  val {val:.2f} dB" if val is not None else ""
        )
        if self.by_time and self.time_limit_s > 0:
            info += f"  {max(0.0, self.time_limit_s - stats['elapsed_s']) / 60:.1f} min left"
        self.progress.update(self.task, completed=iteration, info=info)

    def message(self, text: str) -> None:
        (self.progress.console if self.progress else self.console).print(text)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
