"""RELIABILITY.md at the command line: bad inputs, untouched inputs, refused outputs, Ctrl-C, Unicode paths.

Every bad file is made here. For each case: exit code 1, exactly one ``error:`` line that names the file, no
traceback, no output for the bad file, and the good image of the same batch still written.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image as PILImage

from tests.imagefactory import BAD_INPUT_WRITERS, GOOD_INPUT_WRITERS, write_animated_gif, write_png_named_jpg
from tests.test_cli import errors_in, invoke, stderr_of, write_photo


def checksums(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("case", sorted(BAD_INPUT_WRITERS))
def test_bad_input_among_good_ones(cli_runner, tmp_path: Path, tiny_deblur_weights: Path, case: str) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    good = write_photo(inputs / "good.png")
    bad = BAD_INPUT_WRITERS[case](inputs)
    before = checksums(inputs)
    out = tmp_path / "out"
    result = invoke(cli_runner, "deblur", good, bad, "-o", out, "-w", tiny_deblur_weights)
    err = stderr_of(result)
    assert result.exit_code == 1, err
    lines = errors_in(err)
    assert len(lines) == 1 and bad.name in lines[0], err
    assert "Traceback" not in err + result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["good_deblurred.png"]  # nothing for the bad file
    assert checksums(inputs) == before  # inputs untouched


def test_missing_path_among_good_ones(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    good = write_photo(tmp_path / "good.png")
    missing = tmp_path / "nowhere.jpg"
    result = invoke(cli_runner, "deblur", good, missing, "-w", tiny_deblur_weights)
    assert result.exit_code == 1
    lines = errors_in(stderr_of(result))
    assert len(lines) == 1 and "nowhere.jpg" in lines[0]
    assert (tmp_path / "good_deblurred.png").is_file()


def test_limits_are_options(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    src = write_photo(tmp_path / "wide.png", (48, 20))
    too_wide = invoke(cli_runner, "deblur", src, "--max-side", "32", "-w", tiny_deblur_weights)
    assert too_wide.exit_code == 1 and "wide.png" in errors_in(stderr_of(too_wide))[0]
    too_many = invoke(cli_runner, "deblur", src, "--max-pixels", "500", "-w", tiny_deblur_weights)
    assert too_many.exit_code == 1 and not (tmp_path / "wide_deblurred.png").exists()
    raised = invoke(cli_runner, "deblur", src, "--max-side", "64", "-w", tiny_deblur_weights)
    assert raised.exit_code == 0, stderr_of(raised)


def test_animated_image_with_a_frame(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    gif = write_animated_gif(tmp_path)
    result = invoke(cli_runner, "deblur", gif, "--frame", "1", "-w", tiny_deblur_weights)
    assert result.exit_code == 0, stderr_of(result)
    with PILImage.open(gif) as original:
        size = original.size
    assert PILImage.open(tmp_path / f"{gif.stem}_deblurred.png").size == size


@pytest.mark.parametrize("case", sorted(GOOD_INPUT_WRITERS))
def test_special_inputs_are_restored(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path, case: str
) -> None:
    """Odd modes, sizes, metadata and names: written, same (upright) size, transparency kept."""
    folder = tmp_path / "in"
    folder.mkdir()
    src = GOOD_INPUT_WRITERS[case](folder)
    from restore_cli.io import read_image

    decoded = read_image(src)
    result = invoke(cli_runner, "deblur", src, "-o", tmp_path / "out", "-w", tiny_deblur_weights)
    assert result.exit_code == 0, stderr_of(result)
    (out,) = (tmp_path / "out").iterdir()
    assert out.name == f"{src.stem}_deblurred.png"
    written = read_image(out)
    assert written.pixels.shape[:2] == decoded.pixels.shape[:2]
    assert (written.alpha is not None) == (decoded.alpha is not None)


def test_png_bytes_named_jpg_are_decoded(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    src = write_png_named_jpg(tmp_path)
    result = invoke(cli_runner, "deblur", src, "-w", tiny_deblur_weights)
    assert result.exit_code == 0, stderr_of(result)
    assert (tmp_path / f"{src.stem}_deblurred.png").is_file()


def test_output_equal_to_input_is_refused(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    src = write_photo(tmp_path / "only_copy.png")
    before = checksums(tmp_path)
    for extra in ([], ["--overwrite"]):
        result = invoke(cli_runner, "deblur", src, "-o", src, "-w", tiny_deblur_weights, *extra)
        assert result.exit_code == 2, stderr_of(result)
        assert "only_copy.png" in errors_in(stderr_of(result))[0]
    same = invoke(cli_runner, "deblur", src, "--suffix", "", "--format", "same", "-w", tiny_deblur_weights)
    assert same.exit_code == 2
    assert checksums(tmp_path) == before


def test_unwritable_output_folder(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    src = write_photo(tmp_path / "p.png")
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the output folder should be")
    result = invoke(cli_runner, "deblur", src, "-o", blocker / "out.png", "-w", tiny_deblur_weights)
    assert result.exit_code in (1, 2)
    lines = errors_in(stderr_of(result))
    assert len(lines) == 1 and "not_a_folder" in lines[0]
    assert "Traceback" not in stderr_of(result)
    assert blocker.read_text().startswith("a file")


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root can write anywhere")
def test_read_only_output_folder(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    src = write_photo(tmp_path / "p.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = invoke(cli_runner, "deblur", src, "-o", locked, "-w", tiny_deblur_weights)
        assert result.exit_code == 1
        assert "locked" in errors_in(stderr_of(result))[0]
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_non_ascii_paths(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    src = write_photo(tmp_path / "фото" / "ñandú 写真.png")
    out = tmp_path / "résultats"
    result = invoke(cli_runner, "deblur", src, "-o", out, "-w", tiny_deblur_weights, "--json")
    assert result.exit_code == 0, stderr_of(result)
    assert (out / "ñandú 写真_deblurred.png").is_file()
    assert "ñandú" in result.stdout


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.slow  # two real processes (torch import each): a few seconds on an idle machine
def test_ctrl_c_leaves_no_partial_files_and_skip_existing_resumes(
    tmp_path: Path, tiny_deblur_weights: Path
) -> None:
    inputs = tmp_path / "in"
    names = [f"img{i}.png" for i in range(5)]
    for i, name in enumerate(names):
        write_photo(inputs / name, (96, 80), seed=i)
    out = tmp_path / "out"
    base = [sys.executable, "-m", "restore_cli", "deblur", str(inputs), "-o", str(out), "--quiet"]
    base += ["-w", str(tiny_deblur_weights), "--device", "cpu"]
    slow = ["--passes", "16", "--tile", "0"]  # slow enough to interrupt mid-batch
    # SIGINT back to its default: a test run started in the background (`cmd &`) inherits it ignored.
    proc = subprocess.Popen(
        base + slow,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.is_dir() and any(p.name.endswith("_deblurred.png") for p in out.iterdir()):
            break
        time.sleep(0.02)
    finished_early = proc.poll() is not None
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if not finished_early:
        assert proc.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err
    expected = [n.replace(".png", "_deblurred.png") for n in names]
    left = _listing(out)
    assert set(left) <= set(expected), f"partial or temporary files left behind: {left}"
    for name in left:  # every output present is complete
        with PILImage.open(out / name) as img:
            img.load()
            assert img.size == (96, 80)

    resumed = subprocess.run(base + ["--skip-existing"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert _listing(out) == sorted(expected)
