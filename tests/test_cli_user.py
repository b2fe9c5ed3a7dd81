"""What a user sees: colour photos left alone, steps reported, start line, threads, quality, stdin/stdout,
and the rough edges of help and errors (issue 13). Tiny models on CPU, small images made on the spot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from restore_cli.cli import app
from tests.imagefactory import make_scene

REPO = Path(__file__).resolve().parent.parent


def invoke(runner, *args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def stderr_of(result) -> str:
    try:
        return result.stderr
    except ValueError:
        return result.output


def errors_in(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def save(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(array, mode).save(path)
    return path


def colour_photo(path: Path) -> Path:
    return save(path, make_scene(48, 64, seed=3))


def gray_photo(path: Path) -> Path:
    return save(path, make_scene(48, 64, seed=3)[..., 1])


def blurry_gray_photo(path: Path) -> Path:
    """Defocused (Gaussian sigma 3): large enough for the blur detector to have edges to measure."""
    return save(path, cv2.GaussianBlur(make_scene(96, 128, seed=3)[..., 1], (0, 0), 3))


def records_of(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@pytest.fixture
def refuse_processing(monkeypatch: pytest.MonkeyPatch):
    """Fail the test if a model runs on an image (the checks must come first)."""
    from restore_cli.engine import Engine

    def refuse(*args, **kwargs):
        raise AssertionError("a model ran on an image that should have been refused first")

    monkeypatch.setattr(Engine, "run_deblur", refuse)
    monkeypatch.setattr(Engine, "run_colorize", refuse)


@pytest.fixture
def forbid_model_loading(monkeypatch: pytest.MonkeyPatch):
    import restore_cli.weights as weights

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the usage error was reported")

    monkeypatch.setattr(weights, "load_model", refuse)


# --- colour photos are never recoloured unasked; the steps are reported


def test_colorize_leaves_colour_photos_alone_unless_recolor(
    cli_runner, tmp_path: Path, tiny_colorize_weights: Path
) -> None:
    src = colour_photo(tmp_path / "colour.png")
    result = invoke(cli_runner, "colorize", src, "-w", tiny_colorize_weights, "--json")
    assert result.exit_code == 0, stderr_of(result)
    assert records_of(result)[0]["steps"] == ["unchanged"]
    out = tmp_path / "colour_colorized.png"
    np.testing.assert_array_equal(np.asarray(PILImage.open(out)), np.asarray(PILImage.open(src)))
    line = invoke(cli_runner, "colorize", src, "-w", tiny_colorize_weights, "--suffix", "_b")
    assert "[unchanged]" in line.stdout
    forced = invoke(
        cli_runner, "colorize", src, "-w", tiny_colorize_weights, "--recolor", "--json", "--suffix", "_r"
    )
    assert forced.exit_code == 0 and records_of(forced)[0]["steps"] == ["colorize"]
    gray = gray_photo(tmp_path / "gray.png")
    result = invoke(cli_runner, "colorize", gray, "-w", tiny_colorize_weights)
    assert "[colorize]" in result.stdout


def test_pipeline_default_order_deblurs_all_and_colorizes_gray_only(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path, tiny_colorize_weights: Path
) -> None:
    colour = colour_photo(tmp_path / "in" / "colour.png")
    gray = gray_photo(tmp_path / "in" / "gray.png")
    weights = ["--deblur-weights", tiny_deblur_weights, "--colorize-weights", tiny_colorize_weights]
    result = invoke(cli_runner, "pipeline", colour, gray, "--json", *weights)
    assert result.exit_code == 0, stderr_of(result)
    steps = {Path(r["input"]).name: r["steps"] for r in records_of(result)}
    assert steps == {"colour.png": ["deblur"], "gray.png": ["deblur", "colorize"]}
    recolor = invoke(cli_runner, "pipeline", colour, "--json", "--recolor", "--suffix", "_rc", *weights)
    assert records_of(recolor)[0]["steps"] == ["deblur", "colorize"]


def test_auto_writes_an_image_that_needs_nothing_unchanged(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path, tiny_colorize_weights: Path
) -> None:
    sharp = colour_photo(tmp_path / "sharp.png")
    blurry = blurry_gray_photo(tmp_path / "blurry.png")
    weights = ["--deblur-weights", tiny_deblur_weights, "--colorize-weights", tiny_colorize_weights]
    result = invoke(cli_runner, "pipeline", sharp, blurry, "--order", "auto", *weights)
    assert result.exit_code == 0, stderr_of(result)
    lines = result.stdout.splitlines()
    assert any("sharp.png" in line and "[unchanged]" in line for line in lines), lines
    assert any("blurry.png" in line and "[deblur + colorize]" in line for line in lines), lines
    written = tmp_path / "sharp_restored.png"
    np.testing.assert_array_equal(np.asarray(PILImage.open(written)), np.asarray(PILImage.open(sharp)))


def test_inspect_shows_the_blur_verdict(cli_runner, tmp_path: Path, forbid_model_loading) -> None:
    sharp = colour_photo(tmp_path / "sharp.png")
    blurry = blurry_gray_photo(tmp_path / "blurry.png")
    result = invoke(cli_runner, "inspect", sharp, blurry, "--json")
    assert result.exit_code == 0, stderr_of(result)
    info = {Path(r["path"]).name: r for r in records_of(result)}
    assert info["sharp.png"]["blurry"] is False and info["sharp.png"]["auto"] == ["unchanged"]
    assert info["blurry.png"]["blurry"] is True and info["blurry.png"]["auto"] == ["deblur", "colorize"]
    assert 0.0 <= info["sharp.png"]["blur_score"] < 0.5 <= info["blurry.png"]["blur_score"] <= 1.0
    text = invoke(cli_runner, "inspect", blurry)
    assert "(blurry)" in text.stdout and "auto: deblur + colorize" in text.stdout
    bad = invoke(cli_runner, "inspect", blurry, "--blur-threshold", "100")
    assert bad.exit_code == 2 and len(errors_in(stderr_of(bad))) == 1


# --- say what ran: start line, threads


def test_start_line_names_model_device_threads_precision(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path
) -> None:
    import torch

    src = colour_photo(tmp_path / "p.png")
    before = torch.get_num_threads()
    try:
        result = invoke(cli_runner, "deblur", src, "-w", tiny_deblur_weights, "--threads", "2")
        assert result.exit_code == 0, stderr_of(result)
        err = stderr_of(result)
        assert "deblur tiny-deblur on cpu, 2 CPU threads, fp32" in err
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    quiet = invoke(cli_runner, "deblur", src, "-w", tiny_deblur_weights, "--quiet", "--suffix", "_q")
    assert quiet.exit_code == 0 and stderr_of(quiet).strip() == "" and quiet.stdout == ""


@pytest.mark.parametrize("command", ["deblur", "colorize", "pipeline"])
def test_threads_is_passed_to_the_engine(cli_runner, tmp_path: Path, monkeypatch, command: str) -> None:
    from restore_cli.cli import common
    from restore_cli.errors import UsageError

    seen: list[int | None] = []

    def fake_engine(device, precision, threads=None):
        seen.append(threads)
        raise UsageError("stop here")

    monkeypatch.setattr(common, "make_engine", fake_engine)
    src = colour_photo(tmp_path / "p.png")
    assert invoke(cli_runner, command, src, "--threads", "3").exit_code == 2
    assert invoke(cli_runner, command, src).exit_code == 2
    assert seen == [3, None]  # None: the engine decides (RESTORE_THREADS or its default)
    zero = invoke(cli_runner, command, src, "--threads", "0")
    assert zero.exit_code == 2 and len(errors_in(stderr_of(zero))) == 1


def test_tile_progress_shows_only_after_a_second() -> None:
    from restore_cli.progress import TileProgress

    class Bar:
        def __init__(self) -> None:
            self.tasks: dict[int, tuple[int, int]] = {}

        def add_task(self, name, total):
            self.tasks[len(self.tasks)] = (0, total)
            return len(self.tasks) - 1

        def update(self, task, completed, total):
            self.tasks[task] = (completed, total)

        def remove_task(self, task):
            self.tasks.pop(task)

    bar = Bar()
    tiles = TileProgress(enabled=True, shared=bar)
    tiles(1, 4)
    assert bar.tasks == {}  # fast so far: nothing shown
    tiles.started -= 2.0  # the image has now taken two seconds
    tiles(2, 4)
    assert list(bar.tasks.values()) == [(2, 4)]
    tiles(4, 4)
    assert bar.tasks == {}  # done: the tile bar goes away
    off = TileProgress(enabled=False, shared=bar)
    off.started -= 5.0
    off(1, 4)
    assert bar.tasks == {}


# --- controls: quality, stdin / stdout


def test_quality_sets_jpeg_size(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    src = save(tmp_path / "p.png", make_scene(96, 128, seed=4))
    sizes = {}
    for quality in (20, 95):
        out = tmp_path / f"q{quality}.jpg"
        result = invoke(cli_runner, "deblur", src, "-o", out, "--quality", quality, "-w", tiny_deblur_weights)
        assert result.exit_code == 0, stderr_of(result)
        sizes[quality] = out.stat().st_size
    assert sizes[20] < sizes[95]
    bad = invoke(cli_runner, "deblur", src, "--quality", "0", "-w", tiny_deblur_weights)
    assert bad.exit_code == 2 and len(errors_in(stderr_of(bad))) == 1


def test_output_dash_writes_the_image_to_stdout(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path
) -> None:
    import io as stdio

    src = colour_photo(tmp_path / "p.png")
    result = cli_runner.invoke(app, ["deblur", str(src), "-o", "-", "-w", str(tiny_deblur_weights)])
    assert result.exit_code == 0, stderr_of(result)
    image = PILImage.open(stdio.BytesIO(result.stdout_bytes))
    assert image.format == "PNG" and image.size == (64, 48)
    assert not (tmp_path / "-").exists() and "[deblur]" in stderr_of(result)
    as_jpeg = cli_runner.invoke(
        app, ["deblur", str(src), "-o", "-", "-f", "jpg", "-w", str(tiny_deblur_weights), "--quiet"]
    )
    assert PILImage.open(stdio.BytesIO(as_jpeg.stdout_bytes)).format == "JPEG"


@pytest.mark.parametrize(
    "args",
    [
        ["-"],  # stdin needs -o
        ["-", "{src}", "-o", "-"],  # stdin must be alone
        ["{src}", "{src2}", "-o", "-"],  # stdout takes one image
        ["{src}", "-o", "-", "--json"],  # both want stdout
        ["-", "-o", "{tmp}/out.xyz"],  # an extension nothing writes, refused as for files
    ],
)
def test_stdio_usage_errors(cli_runner, tmp_path: Path, forbid_model_loading, args: list[str]) -> None:
    src, src2 = colour_photo(tmp_path / "a.png"), colour_photo(tmp_path / "b.png")
    argv = ["deblur", *(a.format(src=src, src2=src2, tmp=tmp_path) for a in args)]
    result = cli_runner.invoke(app, argv, input=b"")
    assert result.exit_code == 2, stderr_of(result)
    assert len(errors_in(stderr_of(result))) == 1


def test_stdin_into_an_existing_file_is_refused_before_any_model_loads(
    cli_runner, tmp_path: Path, forbid_model_loading
) -> None:
    src = colour_photo(tmp_path / "a.png")
    keep = colour_photo(tmp_path / "keep.png")
    before = keep.read_bytes()
    result = cli_runner.invoke(app, ["deblur", "-", "-o", str(keep)], input=src.read_bytes())
    assert result.exit_code == 1, stderr_of(result)
    assert "already exists" in stderr_of(result) and len(errors_in(stderr_of(result))) == 1
    assert keep.read_bytes() == before


def test_stdin_to_stdout_in_a_real_pipe(tmp_path: Path, tiny_deblur_weights: Path) -> None:
    src = colour_photo(tmp_path / "a.png")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
        "RESTORE_HOME": str(tmp_path / "home"),
    }
    command = [sys.executable, "-m", "restore_cli", "deblur", "-", "-o", "-", "-w", str(tiny_deblur_weights)]
    done = subprocess.run(command, input=src.read_bytes(), capture_output=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr.decode()
    out = tmp_path / "b.png"
    out.write_bytes(done.stdout)
    assert PILImage.open(out).size == (64, 48)
    assert b"restore: deblur tiny-deblur" in done.stderr and b"[deblur]" in done.stderr
    to_file = subprocess.run(
        [*command[:5], "-o", str(tmp_path / "c.png"), "-w", str(tiny_deblur_weights)],
        input=src.read_bytes(), capture_output=True, timeout=120, env=env,
    )  # fmt: skip
    assert to_file.returncode == 0, to_file.stderr.decode()
    assert PILImage.open(tmp_path / "c.png").size == (64, 48)
    garbage = subprocess.run(command, input=b"not an image", capture_output=True, timeout=120, env=env)
    assert garbage.returncode == 1 and garbage.stdout == b"" and b"<stdin>" in garbage.stderr


# --- rough edges


def test_help_has_no_python_types(cli_runner) -> None:
    for command in (
        ["deblur"],
        ["colorize"],
        ["pipeline"],
        ["inspect"],
        ["bench"],
        ["weights", "import"],
        [],
    ):
        text = cli_runner.invoke(app, [*command, "--help"], env={"COLUMNS": "120"}).stdout
        for python in ("<bool>", "<str>", "<int>", "<list[", "{inputs}", "<path>"):
            assert python not in text, (command, python)
    assert "IMAGES..." in cli_runner.invoke(app, ["deblur", "--help"]).stdout


def test_skipped_line_has_no_none(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    colour_photo(tmp_path / "p.png")
    (tmp_path / "p_deblurred.png").write_bytes(b"old")
    earlier = colour_photo(tmp_path / "q_deblurred.png")  # an earlier output, found through the folder
    assert earlier.exists()
    result = invoke(cli_runner, "deblur", tmp_path, "-w", tiny_deblur_weights, "--skip-existing")
    assert result.exit_code == 0, stderr_of(result)
    lines = result.stdout.splitlines()
    skipped = [line for line in lines if line.startswith("skipped ")]
    assert len(skipped) == 3  # p.png (output exists), p_deblurred.png and q_deblurred.png (earlier outputs)
    assert not any("None" in line for line in skipped)


def test_unknown_model_is_a_usage_error_before_loading(
    cli_runner, tmp_path: Path, forbid_model_loading
) -> None:
    src = colour_photo(tmp_path / "p.png")
    for argv in (["deblur", src, "-m", "nope"], ["pipeline", src, "--colorize-model", "nope"]):
        result = invoke(cli_runner, *argv)
        assert result.exit_code == 2 and len(errors_in(stderr_of(result))) == 1
        assert "nope" in stderr_of(result)


def test_passes_zero_is_one_line(cli_runner, tmp_path: Path, forbid_model_loading) -> None:
    src = colour_photo(tmp_path / "p.png")
    for command in ("deblur", "pipeline"):
        result = invoke(cli_runner, command, src, "--passes", "0")
        err = stderr_of(result)
        assert result.exit_code == 2 and len(errors_in(err)) == 1 and "╭" not in err


def test_cp_style_output_gets_a_hint(cli_runner, tmp_path: Path, tiny_colorize_weights: Path) -> None:
    src = gray_photo(tmp_path / "in.png")
    result = invoke(cli_runner, "colorize", src, tmp_path / "out.png", "-w", tiny_colorize_weights)
    lines = errors_in(stderr_of(result))
    assert result.exit_code == 1 and len(lines) == 1 and f"-o {tmp_path / 'out.png'}" in lines[0]


def test_rgba_to_jpeg_is_refused_before_the_model_runs(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path, refuse_processing
) -> None:
    rgba = make_scene(24, 32)
    alpha = np.full((24, 32, 1), 128, np.uint8)
    src = save(tmp_path / "logo.png", np.concatenate([rgba, alpha], axis=2), "RGBA")
    result = invoke(cli_runner, "deblur", src, "-f", "jpg", "-w", tiny_deblur_weights)
    lines = errors_in(stderr_of(result))
    assert result.exit_code == 1 and len(lines) == 1 and "transparency" in lines[0]


def test_empty_folder_hint_mentions_recursive_only_with_subfolders(cli_runner, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    flat = invoke(cli_runner, "deblur", empty)
    assert flat.exit_code == 2 and "--recursive" not in stderr_of(flat)
    (empty / "sub").mkdir()
    nested = invoke(cli_runner, "deblur", empty)
    assert nested.exit_code == 2 and "--recursive" in stderr_of(nested)


def test_weights_list_fits_80_columns_in_decimal_megabytes(cli_runner) -> None:
    result = cli_runner.invoke(app, ["weights", "list"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, stderr_of(result)
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    from restore_cli.weights import list_weights

    entries = list_weights()
    assert len([line for line in lines if any(e.name in line for e in entries)]) == len(
        entries
    )  # one line each
    for entry in entries:
        assert f"{entry.size_bytes / 1e6:.1f} MB" in result.stdout
