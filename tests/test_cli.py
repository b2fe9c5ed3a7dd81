"""The ``restore`` command line end to end: commands, naming, exit codes, JSON, help speed (tiny, CPU)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from restore_cli import __version__
from restore_cli.cli import app

REPO = Path(__file__).resolve().parent.parent


def write_photo(path: Path, size: tuple[int, int] = (40, 28), mode: str = "RGB", seed: int = 0) -> Path:
    """A small photo-like image (gradient + noise + a bar) in the given Pillow mode; returns its path."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx / max(w - 1, 1), yy / max(h - 1, 1), (xx + yy) / max(w + h - 2, 1)], -1)
    base = np.clip(base + rng.normal(0, 0.05, base.shape), 0, 1)
    base[h // 3 : h // 2, :, :] = 0.9
    rgb = PILImage.fromarray((base * 255).astype(np.uint8), "RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "RGBA":
        alpha = PILImage.fromarray((np.linspace(0, 255, w)[None, :].repeat(h, 0)).astype(np.uint8), "L")
        rgb.putalpha(alpha)
        rgb.save(path)
    elif mode == "I;16":
        gray16 = (base.mean(-1) * 65535).astype(np.uint16)
        PILImage.fromarray(gray16).save(path)
    else:
        rgb.convert(mode).save(path)
    return path


def errors_in(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def stderr_of(result) -> str:
    try:
        return result.stderr
    except ValueError:  # stderr mixed into output
        return result.output


def invoke(runner, *args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def forbid_model_loading(monkeypatch: pytest.MonkeyPatch):
    """Make any weights load fail the test: usage errors must be found before a model loads."""
    import restore_cli.weights as weights

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the usage error was reported")

    monkeypatch.setattr(weights, "load_model", refuse)


# --- basics


def test_version(cli_runner) -> None:
    result = invoke(cli_runner, "--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_no_arguments_shows_help(cli_runner) -> None:
    result = cli_runner.invoke(app, [])
    assert "deblur" in result.output and "colorize" in result.output and "pipeline" in result.output


def test_every_subcommand_is_mounted(cli_runner) -> None:
    result = invoke(cli_runner, "--help")
    assert result.exit_code == 0
    for name in ("deblur", "colorize", "pipeline", "inspect", "weights", "bench", "train", "data"):
        if name in {"bench", "train", "data"} and not (REPO / "restore_cli" / "cli" / f"{name}.py").exists():
            continue  # written by another module; mounted as soon as it exists
        assert re.search(rf"\b{name}\b", result.stdout), name


def test_help_is_fast_and_does_not_import_torch() -> None:
    code = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        "sys.argv = ['restore', '--help']\n"
        "import restore_cli.cli as cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "print('TORCH', 'torch' in sys.modules, 'SECONDS', time.perf_counter() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    match = re.search(r"TORCH (\w+) SECONDS ([\d.]+)", out.stdout)
    assert match, out.stdout + out.stderr
    assert match.group(1) == "False", "restore --help imported torch"
    assert float(match.group(2)) < 3.0  # well under a second on an idle machine; generous for busy CI


def test_python_dash_m_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "restore_cli", "--version"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and __version__ in out.stdout


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- test-command -->", 1)[1]
    command = re.search(r"```bash\n(.+?)\n```", block, re.S).group(1).strip()
    assert "pytest" in command and "torch==2.13.0" in command
    assert command in (REPO / ".ci" / "run").read_text()


# --- deblur


def test_deblur_writes_beside_the_input(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    src = write_photo(tmp_path / "photo.jpg", (37, 23))
    result = invoke(cli_runner, "deblur", src, "--weights", tiny_deblur_weights)
    assert result.exit_code == 0, stderr_of(result)
    out = tmp_path / "photo_deblurred.png"
    assert out.is_file()
    assert PILImage.open(out).size == (37, 23)
    assert "photo_deblurred.png" in result.stdout


def test_output_file_for_one_input(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    src = write_photo(tmp_path / "a.png")
    target = tmp_path / "out" / "sharp.tiff"
    result = invoke(cli_runner, "deblur", src, "-o", target, "-w", tiny_deblur_weights)
    assert result.exit_code == 0, stderr_of(result)
    assert PILImage.open(target).format == "TIFF"


def test_output_folder_mirrors_the_tree(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    root = tmp_path / "scans"
    write_photo(root / "a.png", seed=1)
    write_photo(root / "trip" / "b.jpg", seed=2)
    write_photo(root / "trip" / "day2" / "c.png", seed=3)
    (root / "notes.txt").write_text("not an image")
    out = tmp_path / "restored"
    result = invoke(
        cli_runner, "deblur", root, "--recursive", "-o", out, "-w", tiny_deblur_weights, "--quiet"
    )
    assert result.exit_code == 0, stderr_of(result)
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["a_deblurred.png", "trip/b_deblurred.png", "trip/day2/c_deblurred.png"]
    assert result.stdout == ""  # --quiet


def test_folder_without_recursive_takes_only_its_own_files(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path
) -> None:
    write_photo(tmp_path / "in" / "a.png")
    write_photo(tmp_path / "in" / "sub" / "b.png")
    result = invoke(cli_runner, "deblur", tmp_path / "in", "-o", tmp_path / "out", "-w", tiny_deblur_weights)
    assert result.exit_code == 0, stderr_of(result)
    assert [p.name for p in (tmp_path / "out").rglob("*.png")] == ["a_deblurred.png"]


def test_glob_suffix_and_format(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    for i in range(3):
        write_photo(tmp_path / f"shot{i}.png", seed=i)
    pattern = str(tmp_path / "shot*.png")
    result = invoke(
        cli_runner, "deblur", pattern, "--suffix", "_fixed", "--format", "jpg", "-w", tiny_deblur_weights
    )
    assert result.exit_code == 0, stderr_of(result)
    assert sorted(p.name for p in tmp_path.glob("*_fixed.jpg")) == [f"shot{i}_fixed.jpg" for i in range(3)]


def test_existing_output_refused_then_skipped_then_overwritten(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path
) -> None:
    src = write_photo(tmp_path / "p.png")
    out = tmp_path / "p_deblurred.png"
    out.write_bytes(b"precious")
    refused = invoke(cli_runner, "deblur", src, "-w", tiny_deblur_weights)
    assert refused.exit_code in (1, 2)
    assert out.read_bytes() == b"precious"
    assert any("--overwrite" in line or "exists" in line for line in errors_in(stderr_of(refused)))

    skipped = invoke(cli_runner, "deblur", src, "-w", tiny_deblur_weights, "--skip-existing", "--json")
    assert skipped.exit_code == 0, stderr_of(skipped)
    assert out.read_bytes() == b"precious"
    assert json.loads(skipped.stdout.splitlines()[0])["status"] == "skipped"

    replaced = invoke(cli_runner, "deblur", src, "-w", tiny_deblur_weights, "--overwrite")
    assert replaced.exit_code == 0, stderr_of(replaced)
    assert PILImage.open(out).size == (40, 28)


def test_json_records(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    srcs = [write_photo(tmp_path / f"{n}.png", seed=i) for i, n in enumerate("xyz")]
    result = invoke(cli_runner, "deblur", *srcs, "-w", tiny_deblur_weights, "--json", "--passes", "2")
    assert result.exit_code == 0, stderr_of(result)
    records = [json.loads(line) for line in result.stdout.splitlines()]  # stdout is pure JSON lines
    assert len(records) == 3
    for record in records:
        assert {"input", "output", "status"} <= set(record)
        assert record["status"] == "ok"
        assert Path(record["output"]).is_file()
        assert Path(record["output"]).name == Path(record["input"]).stem + "_deblurred.png"


def test_alpha_and_16_bit_survive(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    rgba = write_photo(tmp_path / "logo.png", (33, 21), mode="RGBA")
    deep = write_photo(tmp_path / "scan16.png", (30, 26), mode="I;16")
    result = invoke(cli_runner, "deblur", rgba, deep, "-w", tiny_deblur_weights)
    assert result.exit_code == 0, stderr_of(result)
    out_rgba = PILImage.open(tmp_path / "logo_deblurred.png")
    assert out_rgba.mode == "RGBA" and out_rgba.size == (33, 21)
    np.testing.assert_array_equal(
        np.asarray(out_rgba)[..., 3], np.asarray(PILImage.open(rgba))[..., 3]
    )  # alpha is re-attached unchanged
    out_deep = PILImage.open(tmp_path / "scan16_deblurred.png")
    assert out_deep.size == (30, 26) and out_deep.mode.startswith("I")  # still 16 bits per sample


def test_batch_with_a_bad_file(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    good = [write_photo(tmp_path / f"good{i}.png", seed=i) for i in range(2)]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg at all")
    result = invoke(cli_runner, "deblur", good[0], bad, good[1], "-w", tiny_deblur_weights)
    assert result.exit_code == 1
    for src in good:
        assert (tmp_path / f"{src.stem}_deblurred.png").is_file()
    assert not (tmp_path / "broken_deblurred.png").exists()
    err = stderr_of(result)
    lines = errors_in(err)
    assert len(lines) == 1 and "broken.jpg" in lines[0]
    assert "Traceback" not in err and "Traceback" not in result.stdout
    assert re.search(r"2 written.*1 failed", err)


# --- usage errors


@pytest.mark.parametrize(
    "extra",
    [
        ["--tile", "banana"],
        ["--tile", "-5"],
        ["--device", "tpu"],
        ["--format", "gif"],
        ["--precision", "fp8"],
        ["--passes", "0"],
        ["--overwrite", "--skip-existing"],
        ["--weights", "missing.safetensors"],
        ["--weights", "model.pth"],
        ["--model", "x", "--weights", "missing.safetensors"],
    ],
)
def test_usage_errors_exit_2_before_loading(
    cli_runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forbid_model_loading, extra: list[str]
) -> None:
    src = write_photo(tmp_path / "p.png")
    (tmp_path / "model.pth").write_bytes(b"\x80\x02}q\x00.")
    monkeypatch.chdir(tmp_path)
    result = cli_runner.invoke(app, ["deblur", str(src), *extra])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "p_deblurred.png").exists()
    assert "Traceback" not in result.output


def test_no_images_found_is_a_usage_error(cli_runner, tmp_path: Path, forbid_model_loading) -> None:
    (tmp_path / "empty").mkdir()
    result = invoke(cli_runner, "deblur", tmp_path / "empty")
    assert result.exit_code == 2
    lines = errors_in(stderr_of(result))
    assert len(lines) == 1 and "no images" in lines[0]


def test_output_conflict_is_a_usage_error(cli_runner, tmp_path: Path, forbid_model_loading) -> None:
    write_photo(tmp_path / "a" / "same.png", seed=1)
    write_photo(tmp_path / "b" / "same.png", seed=2)
    result = invoke(
        cli_runner, "deblur", tmp_path / "a" / "same.png", tmp_path / "b" / "same.png", "-o", tmp_path
    )
    assert result.exit_code == 2, stderr_of(result)
    assert len(errors_in(stderr_of(result))) == 1


def test_no_default_weights_says_how_to_pass_them(cli_runner, tmp_path: Path, no_shipped_weights) -> None:
    src = write_photo(tmp_path / "p.png")
    result = invoke(cli_runner, "deblur", src)
    assert result.exit_code == 1
    err = stderr_of(result)
    lines = errors_in(err)
    assert len(lines) == 1 and "--weights" in lines[0]
    assert "Traceback" not in err
    assert not (tmp_path / "p_deblurred.png").exists()


def test_pipeline_without_defaults_names_its_own_options(
    cli_runner, tmp_path: Path, no_shipped_weights
) -> None:
    src = write_photo(tmp_path / "p.png")
    result = invoke(cli_runner, "pipeline", src)
    assert result.exit_code == 1
    lines = errors_in(stderr_of(result))
    assert len(lines) == 1 and "--deblur-weights" in lines[0]


def test_debug_shows_a_traceback(cli_runner, tmp_path: Path, no_shipped_weights) -> None:
    src = write_photo(tmp_path / "p.png")
    result = invoke(cli_runner, "deblur", src, "--debug")
    assert result.exit_code == 1
    assert "Traceback" in stderr_of(result)


# --- colorize, pipeline, inspect


def test_colorize(cli_runner, tmp_path: Path, tiny_colorize_weights: Path) -> None:
    src = write_photo(tmp_path / "old.png", (35, 27), mode="L")
    result = invoke(cli_runner, "colorize", src, "-o", tmp_path / "out", "-w", tiny_colorize_weights)
    assert result.exit_code == 0, stderr_of(result)
    out = PILImage.open(tmp_path / "out" / "old_colorized.png")
    assert out.size == (35, 27) and out.mode == "RGB"
    result = invoke(
        cli_runner, "colorize", src, "-o", tmp_path / "gray", "-w", tiny_colorize_weights, "--strength", "0"
    )
    assert result.exit_code == 0, stderr_of(result)
    rgb = np.asarray(PILImage.open(tmp_path / "gray" / "old_colorized.png")).astype(int)
    assert np.abs(rgb - rgb[..., :1]).max() <= 1  # strength 0: gray out
    result = invoke(
        cli_runner, "colorize", src, "-o", tmp_path / "x", "-w", tiny_colorize_weights, "--strength", "3"
    )
    assert result.exit_code == 2


def test_pipeline_orders(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path, tiny_colorize_weights: Path
) -> None:
    gray = write_photo(tmp_path / "gray.png", (34, 30), mode="L")
    weights = ["--deblur-weights", tiny_deblur_weights, "--colorize-weights", tiny_colorize_weights]
    for order in ("deblur-first", "colorize-first"):
        out = tmp_path / f"{order}.png"
        result = invoke(cli_runner, "pipeline", gray, "-o", out, "--order", order, *weights)
        assert result.exit_code == 0, stderr_of(result)
        assert PILImage.open(out).size == (34, 30)
    auto = invoke(
        cli_runner, "pipeline", gray, "-o", tmp_path / "auto.png", "--order", "auto", "--json", *weights
    )
    assert auto.exit_code == 0, stderr_of(auto)
    assert json.loads(auto.stdout.splitlines()[0])["status"] == "ok"


def test_inspect(cli_runner, tmp_path: Path, forbid_model_loading) -> None:
    gray = write_photo(tmp_path / "gray.png", (20, 10), mode="L")
    colour = write_photo(tmp_path / "colour.png", (20, 10))
    result = invoke(cli_runner, "inspect", gray, colour, "--json")
    assert result.exit_code == 0, stderr_of(result)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["path"]).name for r in records] == ["gray.png", "colour.png"]
    assert records[0]["gray"] is True and records[1]["gray"] is False
    assert all("blur_score" in r for r in records)
    text = invoke(cli_runner, "inspect", gray)
    assert text.exit_code == 0 and "gray.png" in text.stdout and "20x10" in text.stdout
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    bad = invoke(cli_runner, "inspect", tmp_path / "bad.png", gray)
    assert bad.exit_code == 1 and "gray.png" in bad.stdout
    lines = errors_in(stderr_of(bad))
    assert len(lines) == 1 and "bad.png" in lines[0]


# --- real processes


def test_real_subprocess_run(tmp_path: Path, tiny_deblur_weights: Path) -> None:
    srcs = [write_photo(tmp_path / f"s{i}.png", seed=i) for i in range(2)]
    started = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "restore_cli",
            "deblur",
            *map(str, srcs),
            "-w",
            str(tiny_deblur_weights),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["status"] for line in out.stdout.splitlines()] == ["ok", "ok"]
    assert "2 written" in out.stderr
    assert time.perf_counter() - started < 60


def test_start_up_heap_is_frozen_only_when_main_owns_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from restore_cli.cli import common

    before = gc.get_freeze_count()
    with common.start_up_heap():  # under CliRunner / a host program: the collector is left alone
        assert gc.isenabled()
    assert gc.get_freeze_count() == before
    monkeypatch.setattr(common.STATE, "owns_process", True)
    try:
        with common.start_up_heap():
            assert not gc.isenabled()
            made = [{"n": i} for i in range(100)]
        assert gc.isenabled() and gc.get_freeze_count() >= before + len(made)
    finally:
        gc.unfreeze()  # give this test process its collector back


def test_real_subprocess_usage_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "restore_cli",
            "deblur",
            str(tmp_path / "x.png"),
            "--weights",
            "nope.safetensors",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert len(errors_in(out.stderr)) == 1 and "nope.safetensors" in out.stderr
    assert "Traceback" not in out.stderr


# --- examples and README's main job


def test_examples_are_reproducible(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "examples"))
    try:
        import make_examples
    finally:
        sys.path.remove(str(REPO / "examples"))
    written = make_examples.make_examples(tmp_path)
    assert len(written) >= 4
    for path in written:
        shipped = np.asarray(PILImage.open(REPO / "examples" / "inputs" / path.name), np.float32)
        fresh = np.asarray(PILImage.open(path), np.float32)
        assert shipped.shape == fresh.shape
        assert np.abs(shipped - fresh).mean() < 1.0, path.name


def test_main_job_without_default_weights_is_one_clear_line(
    cli_runner, tmp_path: Path, no_shipped_weights
) -> None:
    args = [
        "pipeline",
        REPO / "examples" / "inputs",
        "-o",
        tmp_path / "restored",
        "--order",
        "auto",
        "--overwrite",
    ]
    result = invoke(cli_runner, *args)
    assert result.exit_code == 1
    lines = errors_in(stderr_of(result))
    assert len(lines) == 1 and "--deblur-weights" in lines[0]
    assert not (tmp_path / "restored").exists() or not any((tmp_path / "restored").iterdir())


def test_main_job_on_examples_with_given_weights(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path, tiny_colorize_weights: Path
) -> None:
    out = tmp_path / "restored"
    result = invoke(
        cli_runner,
        *["pipeline", REPO / "examples" / "inputs", "-o", out, "--order", "auto", "--overwrite", "--json"],
        *["--deblur-weights", tiny_deblur_weights, "--colorize-weights", tiny_colorize_weights],
    )
    assert result.exit_code == 0, stderr_of(result)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records and all(r["status"] == "ok" for r in records)
    for record in records:
        with PILImage.open(record["input"]) as src, PILImage.open(record["output"]) as dst:
            assert dst.size == src.size
            assert ("A" in dst.mode) == ("A" in src.mode)  # alpha kept


def test_unavailable_device_is_a_usage_error_before_loading(
    cli_runner, tmp_path: Path, forbid_model_loading
) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    src = write_photo(tmp_path / "p.png")
    result = invoke(cli_runner, "deblur", src, "--device", "cuda", "-w", tmp_path / "never-read.safetensors")
    assert result.exit_code == 2  # the missing weights file is reported first, also as a usage error
    (tmp_path / "w.safetensors").write_bytes(b"not loaded")
    result = invoke(cli_runner, "deblur", src, "--device", "cuda", "-w", tmp_path / "w.safetensors")
    assert result.exit_code == 2
    lines = errors_in(stderr_of(result))
    assert len(lines) == 1 and "cuda" in lines[0]


def install_gray_default(folder: Path) -> None:
    """A tiny one-channel NAFNet, installed as the user's gray deblur default (``tiny-gray``)."""
    import torch

    from restore_cli.models import create_model
    from restore_cli.weights import add_user_weights, save_weights

    hyper = {"in_channels": 1, "width": 4, "enc_blocks": [1], "middle_blocks": 1, "dec_blocks": [1]}
    torch.manual_seed(1)
    path = folder / "gray.safetensors"
    save_weights(path, create_model("nafnet", **hyper), "nafnet", hyper)
    add_user_weights(path, "tiny-gray", default_for=["deblur-gray"])


def count_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The task of every ``weights.load_model`` call from now on (the file is still read and built)."""
    from restore_cli import weights

    loads: list[str] = []
    real_load = weights.load_model

    def counting_load(ref=None, **kwargs):
        loads.append(kwargs.get("task"))
        return real_load(ref, **kwargs)

    monkeypatch.setattr(weights, "load_model", counting_load)
    return loads


def test_default_and_named_weights(
    cli_runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_deblur_weights: Path, no_shipped_weights
) -> None:
    """User defaults replace --weights; gray images get the gray default; --model picks by name."""
    from restore_cli.engine import Engine
    from restore_cli.weights import add_user_weights

    used: dict[int, int] = {}
    real_run = Engine.run_deblur

    def spy(self, loaded, pixels, *args, **kwargs):  # the model the engine is actually handed
        used[pixels.shape[-1]] = loaded.in_channels
        return real_run(self, loaded, pixels, *args, **kwargs)

    monkeypatch.setattr(Engine, "run_deblur", spy)

    add_user_weights(tiny_deblur_weights, "tiny-rgb", default_for=["deblur"])
    install_gray_default(tmp_path)

    colour = write_photo(tmp_path / "colour.png")
    gray = write_photo(tmp_path / "gray.png", mode="L")
    result = invoke(cli_runner, "deblur", colour, gray, "--json")
    assert result.exit_code == 0, stderr_of(result)
    assert PILImage.open(tmp_path / "gray_deblurred.png").mode == "L"
    assert used == {3: 3, 1: 1}  # colour image -> RGB default, gray image -> gray default
    named = invoke(cli_runner, "deblur", colour, "--model", "tiny-rgb", "--suffix", "_named")
    assert named.exit_code == 0, stderr_of(named)
    unknown = invoke(cli_runner, "deblur", colour, "--model", "no-such-model", "--suffix", "_x")
    assert unknown.exit_code == 2  # a usage error, found before anything loads
    assert len(errors_in(stderr_of(unknown))) == 1 and "no-such-model" in stderr_of(unknown)



@pytest.mark.parametrize("command", ["deblur", "pipeline"])
def test_default_weights_read_once_per_run(
    cli_runner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_deblur_weights: Path,
    tiny_colorize_weights: Path,
    no_shipped_weights,
    command: str,
) -> None:
    """With no gray default, the RGB default is read, hashed and built once (not again as gray fallback)."""
    from restore_cli.weights import add_user_weights

    add_user_weights(tiny_deblur_weights, "tiny-rgb", default_for=["deblur"])
    add_user_weights(tiny_colorize_weights, "tiny-colorize", default_for=["colorize"])
    loads = count_loads(monkeypatch)
    colour = write_photo(tmp_path / "colour.png")
    gray = write_photo(tmp_path / "gray.png", mode="L")
    result = invoke(cli_runner, command, colour, gray)
    assert result.exit_code == 0, stderr_of(result)
    assert loads.count("deblur") + loads.count("deblur-gray") == 1, loads


@pytest.mark.parametrize("gray_default", [True, False])
def test_gray_rgb_photo_is_deblurred_alike_by_deblur_and_pipeline(
    cli_runner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_deblur_weights: Path,
    tiny_colorize_weights: Path,
    no_shipped_weights,
    gray_default: bool,
) -> None:
    """A gray photo stored as RGB is deblurred on one channel (the gray model when there is one) by both
    commands; deblur writes it back as RGB with equal channels."""
    from restore_cli.engine import Engine
    from restore_cli.weights import add_user_weights

    add_user_weights(tiny_deblur_weights, "tiny-rgb", default_for=["deblur"])
    add_user_weights(tiny_colorize_weights, "tiny-colorize", default_for=["colorize"])
    if gray_default:
        install_gray_default(tmp_path)
    calls: list[tuple[str, int, np.ndarray]] = []
    real_run = Engine.run_deblur

    def spy(self, loaded, pixels, *args, **kwargs):
        calls.append((loaded.name, loaded.in_channels, pixels.copy()))
        return real_run(self, loaded, pixels, *args, **kwargs)

    monkeypatch.setattr(Engine, "run_deblur", spy)
    photo = tmp_path / "g.png"
    PILImage.open(write_photo(tmp_path / "l.png", mode="L")).convert("RGB").save(photo)
    deblurred = invoke(cli_runner, "deblur", photo)
    restored = invoke(cli_runner, "pipeline", photo)
    assert deblurred.exit_code == 0 and restored.exit_code == 0, stderr_of(deblurred) + stderr_of(restored)
    (name_a, channels_a, seen_a), (name_b, channels_b, seen_b) = calls
    expected = ("tiny-gray", 1) if gray_default else ("tiny-rgb", 3)
    assert (name_a, channels_a) == (name_b, channels_b) == expected
    assert seen_a.shape[-1] == seen_b.shape[-1] == 1
    np.testing.assert_array_equal(seen_a, seen_b)
    out = PILImage.open(tmp_path / "g_deblurred.png")
    assert out.mode == "RGB"
    pixels = np.asarray(out).astype(int)
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()


def test_order_auto_loads_only_what_a_run_needs(
    cli_runner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tiny_deblur_weights: Path,
    tiny_colorize_weights: Path,
    no_shipped_weights,
) -> None:
    """Defaults load on first need: a sharp colour photo loads none; a user-named bad file fails up front."""
    from restore_cli.weights import add_user_weights
    from tests.imagefactory import make_scene

    add_user_weights(tiny_deblur_weights, "tiny-rgb", default_for=["deblur"])
    add_user_weights(tiny_colorize_weights, "tiny-colorize", default_for=["colorize"])
    loads = count_loads(monkeypatch)

    sharp = tmp_path / "sharp.png"
    PILImage.fromarray(make_scene(96, 128, seed=2)).save(sharp)
    result = invoke(cli_runner, "pipeline", sharp, "--order", "auto", "--json")
    assert result.exit_code == 0, stderr_of(result)
    assert json.loads(result.stdout)["steps"] == ["unchanged"] and loads == []
    assert "deblur tiny-rgb, colorize tiny-colorize" in stderr_of(result)  # named from the manifest

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not safetensors")
    failed = invoke(cli_runner, "pipeline", sharp, "--order", "auto", "--deblur-weights", bad, "--overwrite")
    assert failed.exit_code == 1 and len(errors_in(stderr_of(failed))) == 1
    assert "bad.safetensors" in stderr_of(failed) and failed.stdout == ""  # before the first image


# --- the batch contract: each record reported once, counts and exit code from BatchResult


def test_each_record_is_reported_exactly_once(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    folder = tmp_path / "in"
    write_photo(folder / "a.png")
    write_photo(folder / "c.png", seed=2)
    (folder / "b.jpg").write_bytes(b"not a jpeg")
    write_photo(folder / "d.png", seed=3)
    write_photo(folder / "e_deblurred.png", seed=4)  # an earlier output: skipped
    args = ["deblur", folder, "-w", tiny_deblur_weights]
    as_json = invoke(cli_runner, *args, "-o", tmp_path / "out1", "--json")
    assert as_json.exit_code == 1
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [(Path(r["input"]).name, r["status"]) for r in records] == [
        ("a.png", "ok"), ("b.jpg", "failed"), ("c.png", "ok"), ("d.png", "ok"),
        ("e_deblurred.png", "skipped"),
    ]  # fmt: skip
    assert len(errors_in(stderr_of(as_json))) == 1
    assert "3 written, 1 skipped, 1 failed" in stderr_of(as_json)

    lines = invoke(cli_runner, *args, "-o", tmp_path / "out2")
    out = lines.stdout.splitlines()
    assert lines.exit_code == 1 and len(out) == 4  # three written, one skipped; the failure only on stderr
    assert sorted(Path(line.split()[0]).name for line in out if not line.startswith("skipped")) == [
        "a.png", "c.png", "d.png",
    ]  # fmt: skip
    assert len(errors_in(stderr_of(lines))) == 1 and "b.jpg" in errors_in(stderr_of(lines))[0]


def test_interrupt_exits_130_from_the_batch_result(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the second image is written: the first stays, the summary counts it all, exit 130."""
    from restore_cli import io

    folder = tmp_path / "in"
    for i in range(3):
        write_photo(folder / f"{i}.png", seed=i)
    real_write = io.write_image
    writes: list[Path] = []

    def write_then_interrupt(image, path, **kwargs):
        writes.append(Path(path))
        if len(writes) == 2:
            raise KeyboardInterrupt
        return real_write(image, path, **kwargs)

    monkeypatch.setattr(io, "write_image", write_then_interrupt)
    out = tmp_path / "out"
    result = invoke(cli_runner, "deblur", folder, "-o", out, "-w", tiny_deblur_weights, "--json")
    assert result.exit_code == 130
    err = stderr_of(result)
    assert "1 written, 0 skipped, 1 failed" in err and "interrupted" in err.splitlines()[-1]
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["status"] for r in records] == ["ok", "failed"]  # each once; the third never started
    assert "--skip-existing" in records[1]["message"]
    assert sorted(p.name for p in out.iterdir()) == ["0_deblurred.png"]


def test_interrupt_while_a_record_is_printed_exits_130_and_starts_nothing_more(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the CLI prints the first record: the run stops there; summary and 130 from the result."""
    from restore_cli.cli import common

    folder = tmp_path / "in"
    for i in range(3):
        write_photo(folder / f"{i}.png", seed=i)

    def interrupt(self, record):
        raise KeyboardInterrupt

    monkeypatch.setattr(common.Printer, "record", interrupt)
    out = tmp_path / "out"
    result = invoke(cli_runner, "deblur", folder, "-o", out, "-w", tiny_deblur_weights)
    assert result.exit_code == 130
    assert "1 written, 0 skipped, 0 failed" in stderr_of(result)
    assert sorted(p.name for p in out.iterdir()) == ["0_deblurred.png"]


def test_interrupt_of_a_stdout_stream_exits_130(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-o -` goes through the batch's job runner: Ctrl-C while encoding is a failed record and exit 130."""
    from restore_cli import io

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(io, "encode_image", interrupted)
    src = write_photo(tmp_path / "p.png")
    result = invoke(cli_runner, "deblur", src, "-o", "-", "-w", tiny_deblur_weights)
    assert result.exit_code == 130
    err = stderr_of(result)
    assert "0 written, 0 skipped, 1 failed" in err and "--skip-existing" in err


def test_damaged_default_weights_fail_once(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path, no_shipped_weights
) -> None:
    """A default file that no longer matches its sha256 is one error (exit 1), not one per image."""
    from restore_cli.weights import add_user_weights

    entry = add_user_weights(tiny_deblur_weights, "tiny-rgb", default_for=["deblur"])
    assert entry.path is not None
    entry.path.write_bytes(entry.path.read_bytes()[:-8] + b"damaged!")
    photos = [write_photo(tmp_path / f"p{i}.png", seed=i) for i in range(3)]
    result = invoke(cli_runner, "deblur", *photos, "-o", tmp_path / "out")
    assert result.exit_code == 1
    errors = errors_in(stderr_of(result))
    assert len(errors) == 1 and "sha256 mismatch" in errors[0], errors
    assert not list(tmp_path.glob("out/*.png"))
