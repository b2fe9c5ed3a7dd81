"""The shared progress bar (batch CLI runs and the training display)."""

from __future__ import annotations

import io

from rich.console import Console

from restore_cli.progress import progress_bar
from restore_cli.train.display import RichReporter


def _console(buffer: io.StringIO) -> Console:
    return Console(file=buffer, force_terminal=True, width=160, color_system=None)


def test_progress_bar_shows_count_and_info() -> None:
    buffer = io.StringIO()
    bar = progress_bar(_console(buffer), info_field=True)
    bar.start()
    task = bar.add_task("deblur", total=4, info="")
    bar.update(task, completed=3, info="loss 0.1234")
    bar.stop()
    text = buffer.getvalue()
    assert "deblur" in text and "3/4" in text and "loss 0.1234" in text


def test_training_reporter_uses_it() -> None:
    buffer = io.StringIO()
    reporter = RichReporter(_console(buffer))
    reporter.start(0, 10, 0.0, "tiny")
    reporter.step(5, {"loss": 0.5, "lr": 1e-3, "it_s": 2.0, "val_psnr": 31.25, "elapsed_s": 1.0})
    reporter.close()
    text = buffer.getvalue()
    assert "5/10" in text and "val 31.25 dB" in text
