"""``restore deblur x.png``: how many project modules the work crosses, and no call back into the CLI.

The command runs in-process under ``sys.setprofile``. At the model's forward (the engine's call into the
network) and at the output file's final rename or link, the ``restore_cli`` modules on the Python call stack
are recorded; their union, the network itself (``restore_cli.models.*``) left out, is the path from the CLI
to the written file. Every call into ``restore_cli.cli`` must come from the CLI itself or from click/typer,
never from a library frame (no callbacks from the library into ``cli/``).

Measured: 6 library modules from the CLI to the written file: ``batch`` (the job loop), ``restorer`` (the
session: which steps, which model), ``engine`` (tiles, device, precision) and ``models.descriptor`` (pad,
forward, crop) at the forward; ``batch``, ``io`` (encoding) and ``fsutil`` (the one atomic write) at the
rename. Above them, 3 CLI modules: ``restore_cli.cli`` (the root group's ``invoke``, which maps errors to exit
codes), ``cli.deblur`` (the command) and ``cli.common`` (the runner that iterates the batch and prints): 9 in
all. Before the Restorer the same measure gave ``tasks`` for ``restorer`` and ``batch`` calling back into
``cli.common``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import FrameType

import numpy as np
import pytest
from PIL import Image as PILImage

from restore_cli.cli import app

MAX_LIBRARY_MODULES = 6
MAX_CLI_MODULES = 3


def _module(frame: FrameType) -> str:
    return str(frame.f_globals.get("__name__", ""))


def _project_modules(frame: FrameType | None) -> set[str]:
    found = set()
    while frame is not None:
        name = _module(frame)
        # The network's own modules are not counted; the descriptor (the one forward path) is.
        network = name.startswith("restore_cli.models") and name != "restore_cli.models.descriptor"
        if name.startswith("restore_cli") and not network:
            found.add(name)
        frame = frame.f_back
    return found


def test_deblur_crosses_few_modules_and_nothing_calls_back_into_the_cli(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = tmp_path / "x.png"
    rng = np.random.default_rng(0)
    PILImage.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(photo)
    output = tmp_path / "x_deblurred.png"
    at_forward: list[set[str]] = []
    at_write: list[set[str]] = []
    callbacks: list[str] = []

    def watch(frame: FrameType, event: str, arg: object) -> None:
        if event != "call":
            return
        callee = _module(frame)
        network = callee.startswith("restore_cli.models") and callee != "restore_cli.models.descriptor"
        if network and frame.f_code.co_name == "forward":
            at_forward.append(_project_modules(frame))
        elif callee.startswith("restore_cli.cli"):
            caller = _module(frame.f_back) if frame.f_back is not None else ""
            if caller.startswith("restore_cli") and not caller.startswith("restore_cli.cli"):
                callbacks.append(f"{caller} -> {callee}.{frame.f_code.co_name}")

    def recording(real):
        def put_in_place(src, dst, *args, **kwargs):
            if Path(dst) == output:
                at_write.append(_project_modules(sys._getframe(1)))
            return real(src, dst, *args, **kwargs)

        return put_in_place

    monkeypatch.setattr(os, "replace", recording(os.replace))
    monkeypatch.setattr(os, "link", recording(os.link))
    sys.setprofile(watch)
    try:
        result = cli_runner.invoke(app, ["deblur", str(photo), "-w", str(tiny_deblur_weights)])
    finally:
        sys.setprofile(None)
    assert result.exit_code == 0, result.output
    assert output.exists() and at_forward and len(at_write) == 1
    crossed = set().union(*at_forward, *at_write)
    cli = {name for name in crossed if name == "restore_cli.cli" or name.startswith("restore_cli.cli.")}
    library = crossed - cli
    print(f"library modules crossed ({len(library)}): {sorted(library)}; CLI modules: {sorted(cli)}")
    assert callbacks == []
    assert "restore_cli.models.descriptor" in library  # the forward really went through the one path
    assert len(library) <= MAX_LIBRARY_MODULES, sorted(library)
    assert len(cli) <= MAX_CLI_MODULES, sorted(cli)
