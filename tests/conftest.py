"""Shared fixtures: an isolated RESTORE_HOME, tiny weights files for each task, and a CLI runner.

Everything here is small and made on the spot (no downloads): the tiny models run in milliseconds on CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# Tiny architectures: enough to exercise every code path, fast enough for many CLI runs.
TINY_DEBLUR = ("nafnet", {"width": 4, "enc_blocks": [1], "middle_blocks": 1, "dec_blocks": [1]})
TINY_COLORIZE = ("unet", {"base": 4, "depth": 2, "head": "ab"})


@pytest.fixture(scope="session", autouse=True)
def signals_as_a_terminal_gives_them() -> None:
    """Termination signals at their defaults, as a shell in a terminal starts programs.

    ``nohup`` ignores SIGHUP and a non-interactive shell's ``cmd &`` ignores SIGINT; ignored signals stay
    ignored in every child, and the tool rightly keeps them ignored (a nohup'd run must survive the hang-up).
    The signal tests need them delivered, in this process and in the CLI processes they start.
    """
    import signal

    for signum in (signal.SIGHUP, signal.SIGTERM):
        if signal.getsignal(signum) is signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def one_cpu_thread() -> None:
    """Run torch on one thread in tests (and in the CLI subprocesses they start).

    On a small, shared CI machine several intra-op threads spin against each other and the other jobs: a tiny
    forward pass measured 1 s with two threads under load and 10 ms with one. Results do not change.
    """
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def restore_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty RESTORE_HOME, so no test reads or writes the user's weights folder."""
    home = tmp_path_factory.mktemp("restore_home")
    monkeypatch.setenv("RESTORE_HOME", str(home))
    monkeypatch.delenv("RESTORE_DEBUG", raising=False)
    return home


@pytest.fixture
def no_shipped_weights(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the shipped-weights folder at an empty manifest, as on a machine where none are installed."""
    folder = tmp_path_factory.mktemp("shipped_weights")
    (folder / "manifest.json").write_text(json.dumps({"version": 1, "weights": []}))
    monkeypatch.setenv("RESTORE_WEIGHTS_DIR", str(folder))
    return folder


def _save_tiny(folder: Path, arch: str, hyper: dict, name: str) -> Path:
    import torch

    from restore_cli.models import create_model
    from restore_cli.weights import save_weights

    torch.manual_seed(0)
    module = create_model(arch, **hyper)
    path = folder / f"{name}.safetensors"
    save_weights(path, module, arch, hyper, meta={"name": name, "description": "tiny test model"})
    return path


@pytest.fixture(scope="session")
def tiny_deblur_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny NAFNet deblur weights file (random weights: outputs are meaningless but well-formed)."""
    arch, hyper = TINY_DEBLUR
    return _save_tiny(tmp_path_factory.mktemp("weights"), arch, hyper, "tiny-deblur")


@pytest.fixture(scope="session")
def tiny_colorize_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny U-Net colorizer weights file (skips when the unet architecture is not available)."""
    from restore_cli.errors import UnknownModelError
    from restore_cli.models import get_arch

    arch, hyper = TINY_COLORIZE
    try:
        get_arch(arch)
    except UnknownModelError:
        pytest.skip("the unet colorizer architecture is not registered")
    return _save_tiny(tmp_path_factory.mktemp("weights"), arch, hyper, "tiny-colorize")


@pytest.fixture
def cli_runner():
    """A Typer CliRunner (stdout and stderr kept apart where the installed version supports it)."""
    from typer.testing import CliRunner

    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()
