"""``restore bench``: dataset readers on tiny fixture trees, rows, records, MAC counting and the command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from restore_cli.bench import datasets, metrics, report, runner
from restore_cli.bench.datasets import DatasetError, open_dataset
from restore_cli.bench.runner import RECORD_KEYS, BenchModel, build_rows, run_benchmark


def _png(path: Path, seed: int, size=(24, 32)) -> np.ndarray:
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


def _pairs(blur_dir: Path, sharp_dir: Path, names=("a", "b"), suffix=".png") -> None:
    for i, name in enumerate(names):
        _png(blur_dir / f"{name}{suffix}", i)
        _png(sharp_dir / f"{name}{suffix}", 100 + i)


def _identity(name: str = "identity", task: str = "deblur") -> BenchModel:
    return BenchModel(name=name, task=task, run=lambda pixels: pixels.copy())


# ------------------------------------------------------------------------------------------ datasets


def test_gopro_nested_blur_gamma_and_flattened(tmp_path: Path) -> None:
    root = tmp_path / "GOPRO_Large"
    for seq in ("GOPR0384_11_00", "GOPR0385_11_01"):
        _pairs(root / "test" / seq / "blur", root / "test" / seq / "sharp", names=("000001", "000002"))
        _pairs(root / "test" / seq / "blur_gamma", root / "test" / seq / "sharp", names=("000001",))
    _png(root / "train" / "GOPR0372_07_00" / "blur" / "000001.png", 9)  # train is never read
    data = open_dataset("gopro", root=root)
    assert [s.name for s in data.samples] == [
        "GOPR0384_11_00/000001",
        "GOPR0384_11_00/000002",
        "GOPR0385_11_01/000001",
        "GOPR0385_11_01/000002",
    ]
    assert data.samples[0].input_path.parent.name == "blur"
    gamma = open_dataset("gopro", root=root, blur_gamma=True)
    assert len(gamma.samples) == 2 and gamma.samples[0].input_path.parent.name == "blur_gamma"
    source, truth = data.samples[0].load()
    assert source.dtype == np.uint8 and source.shape == truth.shape == (24, 32, 3)

    flat = tmp_path / "GoPro"
    _pairs(flat / "test" / "input", flat / "test" / "target", names=("x1", "x2", "x3"))
    assert len(open_dataset("gopro", root=flat).samples) == 3


def test_restore_data_env_locates_named_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _pairs(tmp_path / "REDS" / "val" / "val_blur" / "000", tmp_path / "REDS" / "val" / "val_sharp" / "000")
    monkeypatch.setenv("RESTORE_DATA", str(tmp_path))
    data = open_dataset("reds")
    assert [s.name for s in data.samples] == ["000/a", "000/b"]


def test_hide_layout(tmp_path: Path) -> None:
    root = tmp_path / "HIDE_dataset"
    _png(root / "GT" / "1fromGOPR0950.png", 1)
    _png(root / "GT" / "2fromGOPR1096.png", 2)
    _png(root / "test" / "test-close-ups" / "1fromGOPR0950.png", 3)
    _png(root / "test" / "test-long-shot" / "2fromGOPR1096.png", 4)
    data = open_dataset("hide", root=root)
    assert sorted(s.name for s in data.samples) == [
        "test-close-ups/1fromGOPR0950",
        "test-long-shot/2fromGOPR1096",
    ]
    assert all(s.truth_path.parent.name == "GT" for s in data.samples)


def test_realblur_test_list_and_alignment_flag(tmp_path: Path) -> None:
    folder = "RealBlur-J_ECC_IMCORR_centroid_itensity_ref/scene230"
    _png(tmp_path / folder / "gt" / "gt_1.png", 1)
    _png(tmp_path / folder / "blur" / "blur_1.png", 2)
    _png(tmp_path / folder / "gt" / "gt_2.png", 3)  # not in the list: ignored
    (tmp_path / "RealBlur_J_test_list.txt").write_text(f"{folder}/gt/gt_1.png {folder}/blur/blur_1.png\n")
    data = open_dataset("realblur-j", root=tmp_path)
    assert data.align is True and len(data.samples) == 1
    assert data.samples[0].truth_path.name == "gt_1.png" and data.samples[0].input_path.name == "blur_1.png"
    with pytest.raises(DatasetError, match="RealBlur_R_test_list"):
        open_dataset("realblur-r", root=tmp_path / "nothing")


def test_kaggle_blur_is_no_reference_with_warning(tmp_path: Path) -> None:
    _png(tmp_path / "sharp" / "0_IPHONE-SE_S.JPG", 1)
    _png(tmp_path / "motion_blurred" / "0_IPHONE-SE_M.JPG", 2)
    _png(tmp_path / "defocused_blurred" / "0_IPHONE-SE_F.JPG", 3)
    data = open_dataset("kaggle-blur", root=tmp_path)
    assert not data.full_reference and "not pixel-aligned" in data.warnings[0]
    assert data.samples[0].truth_path.name == "0_IPHONE-SE_S.JPG"
    result = run_benchmark(data, build_rows("deblur", [_identity()]))
    assert result.records[0]["psnr"] is None and result.records[0]["sharpness"] > 0


def test_pairs_folder_both_layouts_and_unmatched_names(tmp_path: Path) -> None:
    _pairs(tmp_path / "one" / "blur", tmp_path / "one" / "sharp")
    _png(tmp_path / "one" / "blur" / "orphan.png", 7)
    _pairs(tmp_path / "two" / "input", tmp_path / "two" / "target", names=("p",))
    assert [s.name for s in open_dataset(str(tmp_path / "one")).samples] == ["a", "b"]
    assert [s.name for s in open_dataset(str(tmp_path / "two")).samples] == ["p"]
    with pytest.raises(DatasetError, match="blur/ \\+ sharp/"):
        open_dataset(str(tmp_path / "one" / "blur"))


def test_colour_photos_for_colorize_make_gray_on_the_fly(tmp_path: Path) -> None:
    _png(tmp_path / "photos" / "p1.png", 1)
    _png(tmp_path / "photos" / "sub" / "p2.jpg", 2)
    data = open_dataset(str(tmp_path / "photos"), task="colorize")
    assert data.task == "colorize" and [s.name for s in data.samples] == ["p1", "sub/p2"]
    gray, truth = data.samples[0].load()
    assert (gray[:, :, 0] == gray[:, :, 1]).all() and (gray[:, :, 1] == gray[:, :, 2]).all()
    assert not (truth[:, :, 0] == truth[:, :, 1]).all()
    assert metrics.colorfulness(gray) == 0.0


def test_missing_dataset_says_layout_and_where_published(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("RESTORE_DATA", raising=False)
    with pytest.raises(DatasetError) as info:
        open_dataset("gopro", root=tmp_path / "absent")
    message = str(info.value)
    assert "GOPRO_Large/test/<sequence>" in message and "seungjunnah.github.io" in message
    assert "Nothing is downloaded" in message and info.value.exit_code == 2
    with pytest.raises(DatasetError, match="kaggle.com"):
        open_dataset("kaggle-blur")
    with pytest.raises(DatasetError, match="unknown dataset"):
        open_dataset("imagenet")


def test_synthetic_is_deterministic_and_blurred() -> None:
    first = [s.load() for s in datasets.synthetic(count=4).samples]
    second = [s.load() for s in datasets.synthetic(count=4).samples]
    for (b1, s1), (b2, s2) in zip(first, second):
        assert np.array_equal(b1, b2) and np.array_equal(s1, s2)
        assert 12 < metrics.psnr(b1, s1) < 40  # blurred, but still the same scene
        assert metrics.laplacian_variance(b1) < metrics.laplacian_variance(s1)
    kernel = datasets.synthetic_kernel(3)
    assert kernel.sum() == pytest.approx(1.0) and (kernel >= 0).all()
    gray, colour = datasets.synthetic(count=1, task="pipeline").samples[0].load()
    assert (gray[:, :, 0] == gray[:, :, 2]).all() and metrics.colorfulness(colour) > 10


# ------------------------------------------------------------------------------------------ runner


def test_identity_model_gives_exactly_the_baseline_numbers() -> None:
    data = datasets.synthetic(count=3)
    result = run_benchmark(data, build_rows("deblur", [_identity()]), ssim_variant="matlab3d")
    baseline, identity = result.records
    assert baseline["row"].startswith("baseline") and identity["model"] == "identity"
    for key in ("psnr", "ssim", "mse", "mae", "sharpness"):
        assert identity[key] == baseline[key]
    expected = np.mean([metrics.psnr(*s.load()) for s in data.samples])
    assert baseline["psnr"] == pytest.approx(expected, abs=1e-12)
    assert identity["ms_per_image"] > 0 and identity["ms_per_mp"] > identity["ms_per_image"]
    assert baseline["ms_per_image"] is None


def test_rows_for_passes_and_pipeline_orders() -> None:
    deblur, colour = _identity("d"), _identity("c", task="colorize")
    labels = [r.label for r in build_rows("deblur", [deblur], passes=[1, 2, 3])]
    assert labels == ["baseline (input)", "d", "d x2", "d x3"]
    rows = build_rows("pipeline", [deblur, colour], passes=[1, 2], orders=["deblur-first", "colorize-first"])
    assert len(rows) == 5
    assert [s.name for s in rows[2].steps] == ["d", "d", "c"] and rows[2].order == "deblur-first"
    assert [s.name for s in rows[4].steps] == ["c", "d", "d"] and rows[4].order == "colorize-first"
    with pytest.raises(Exception, match="passes"):
        runner.parse_int_list("1,0")
    with pytest.raises(Exception, match="order"):
        runner.parse_orders("auto")


def test_colorize_records_measure_colour() -> None:
    data = datasets.synthetic(count=2, task="colorize")
    oracle_truth = {}

    def cheat(pixels: np.ndarray) -> np.ndarray:  # returns the ground truth: perfect colours
        return oracle_truth["t"].astype(np.float32) / 255

    samples = data.samples
    for sample in samples:
        original = sample.make

        def make(original=original):
            gray, truth = original()
            oracle_truth["t"] = truth
            return gray, truth

        sample.make = make
    result = run_benchmark(data, build_rows("colorize", [_identity("oracle", task="colorize")]))
    baseline = result.records[0]
    assert baseline["colorfulness"] == pytest.approx(0.0) and baseline["colorfulness_gap"] < 0
    assert baseline["ab_error"] > 1
    perfect = run_benchmark(data, build_rows("colorize", [BenchModel("oracle", "colorize", cheat)]))
    assert perfect.records[1]["ab_error"] == pytest.approx(0.0, abs=1e-3)
    assert perfect.records[1]["psnr"] == math.inf


def test_ctrl_c_returns_partial_records() -> None:
    calls = {"n": 0}

    def flaky(pixels: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] > 2:  # warm-up, first image, then Ctrl-C on the second
            raise KeyboardInterrupt
        return pixels

    result = run_benchmark(
        datasets.synthetic(count=3), build_rows("deblur", [BenchModel("m", "deblur", flaky)])
    )
    assert result.interrupted and all(r["partial"] for r in result.records)
    assert [r["images"] for r in result.records] == [1, 1]


def test_ecc_alignment_undoes_a_shift() -> None:
    _, sharp = datasets.synthetic(count=1).samples[0].load()
    shifted = np.roll(sharp, (2, 3), axis=(0, 1))
    aligned, truth, mask = runner.align_to_truth(shifted, sharp)
    assert mask.min() == 0 and mask.mean() > 0.9
    inside = mask > 0
    error = np.sqrt(np.mean((aligned[inside] - truth[inside]) ** 2))
    assert error < 0.5 * np.sqrt(np.mean((shifted.astype(float) - sharp) ** 2))


def test_mac_and_parameter_counts() -> None:
    from torch import nn

    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert runner.count_parameters(conv) == 3 * 8 * 9 + 8
    assert runner.count_macs(conv, (1, 3, 16, 16)) == 8 * 16 * 16 * 3 * 9
    grouped = nn.Conv2d(8, 8, 3, padding=1, groups=8)
    assert runner.count_macs(grouped, (1, 8, 10, 10)) == 8 * 100 * 9
    deconv = nn.ConvTranspose2d(4, 2, 2, stride=2)
    assert runner.count_macs(deconv, (1, 4, 5, 5)) == 4 * 25 * 2 * 4
    linear = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))
    assert runner.count_macs(linear, (2, 3, 2, 2)) == 2 * 5 * 12
    model = BenchModel("c", "deblur", lambda p: p, module=conv)
    assert runner.macs_per_megapixel(model, side=100) == pytest.approx(8 * 27 * 1e6)


def test_json_and_csv_schema(tmp_path: Path) -> None:
    result = run_benchmark(datasets.synthetic(count=2), build_rows("deblur", [_identity()]))
    report.write_json(tmp_path / "r.json", result.records, result.warnings)
    payload = json.loads((tmp_path / "r.json").read_text())
    assert payload["schema"] == "restore-bench/1" and len(payload["records"]) == 2
    for record in payload["records"]:
        assert list(record) == list(RECORD_KEYS)
        assert isinstance(record["psnr"], float) and 0 < record["ssim"] <= 1
        assert record["ssim_variant"] == "matlab3d" and record["dataset"] == "synthetic"
        assert record["images"] == 2 and record["partial"] is False
    assert payload["records"][1]["memory_kind"] == "cpu-peak-rss"
    assert payload["records"][1]["peak_memory_mb"] > 1
    report.write_csv(tmp_path / "r.csv", result.records)
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert lines[0].split(",") == list(RECORD_KEYS) and len(lines) == 3
    folder = report.write_report(tmp_path / "rep", result).parent
    assert (folder / "chart.png").is_file() and (folder / "contact_identity.png").is_file()
    assert "| baseline (input) |" in (folder / "report.md").read_text()


# --------------------------------------------------------------------------------------------- CLI


def _app():
    """The root app (its one error handler included); callers add "bench" in front of their options."""
    from restore_cli.cli import app

    return app


def test_cli_runs_synthetic_with_weights(tmp_path: Path, cli_runner, tiny_deblur_weights: Path) -> None:
    out = tmp_path / "r.json"
    result = cli_runner.invoke(
        _app(),
        ["bench", "--dataset", "synthetic", "--limit", "1", "--weights", str(tiny_deblur_weights),
         "--passes", "1,2", "--device", "cpu", "--tile", "0", "--ssim", "skimage", "--json-out", str(out),
         "--save-outputs", str(tmp_path / "o")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())["records"]
    assert [r["row"] for r in records] == ["baseline (input)", "tiny-deblur", "tiny-deblur x2"]
    assert records[1]["params"] > 0 and records[1]["macs_per_mp"] > 0
    assert records[2]["macs_per_mp"] == pytest.approx(2 * records[1]["macs_per_mp"])
    assert len(list((tmp_path / "o").rglob("*.png"))) == 2
    assert "PSNR" in result.stdout


def test_table_fits_a_narrow_terminal() -> None:
    from rich.console import Console

    records = [
        {"row": "baseline (input)", "dataset": "synthetic", "task": "deblur", "device": "cpu",
         "precision": "fp32", "images": 3, "psnr": 20.1, "ssim": 0.61, "mse": 12.5, "mae": 3.2,
         "sharpness": 120.0,
         "ms_per_image": 1.0, "ms_per_mp": 10.0, "images_per_s": 1000.0, "peak_memory_mb": 10.0},
        {"row": "nafnet-w16-deblur x2", "dataset": "synthetic", "task": "deblur", "device": "cpu",
         "precision": "fp32", "images": 3, "psnr": 21.3, "ssim": 0.65, "mse": 10.1, "mae": 2.9,
         "sharpness": 150.0, "ms_per_image": 1234.5, "ms_per_mp": 4567.8, "images_per_s": 0.81,
         "peak_memory_mb": 1234.0, "params": 1_234_567, "macs_per_mp": 12_000_000_000},
    ]  # fmt: skip
    console = Console(width=80, record=True, soft_wrap=False)
    console.print(report.rich_table(records, width=80))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "PSNR dB" in text and "SSIM" in text and "ms/MP" in text and "PS…" not in text
    assert "more columns" in text


def test_cli_missing_dataset_is_usage_error(tmp_path: Path, cli_runner) -> None:
    result = cli_runner.invoke(_app(), ["bench", "--dataset", "hide", "--root", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "HIDE_dataset/GT" in result.output or "HIDE_dataset/GT" in (result.stderr or "")


def test_cli_pipeline_orders_with_both_models(
    tmp_path: Path, cli_runner, tiny_deblur_weights: Path, tiny_colorize_weights: Path
) -> None:
    out = tmp_path / "p.json"
    result = cli_runner.invoke(
        _app(),
        ["bench", "--task", "pipeline", "--limit", "1", "--weights", str(tiny_deblur_weights), "--weights",
         str(tiny_colorize_weights), "--order", "deblur-first,colorize-first", "--device", "cpu",
         "--tile", "0", "--json-out", str(out), "--json", "--threads", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = json.loads(out.read_text())["records"]
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [r["row"] for r in lines] == [r["row"] for r in records]  # --json: one record per line on stdout
    assert "PSNR" not in result.stdout  # no table with --json
    assert [r["order"] for r in records] == [None, "deblur-first", "colorize-first"]
    assert records[0]["colorfulness"] == pytest.approx(0.0)  # the baseline is the blurred gray input
    assert all(r["ab_error"] is not None and r["psnr"] is not None for r in records)
    assert records[1]["model"] == "tiny-deblur + tiny-colorize"


def test_rows_of_loaded_models_run_through_the_restorer(
    monkeypatch: pytest.MonkeyPatch, tiny_deblur_weights: Path, tiny_colorize_weights: Path
) -> None:
    """Pipeline rows are the product's pipeline: a gray input is deblurred on one channel, as by restore."""
    from restore_cli import tasks
    from restore_cli.engine import Engine

    seen: list[int] = []
    real = Engine.run_deblur

    def spy(self, loaded, pixels, **kwargs):
        seen.append(pixels.shape[2])
        return real(self, loaded, pixels, **kwargs)

    monkeypatch.setattr(Engine, "run_deblur", spy)
    refs = [str(tiny_deblur_weights), str(tiny_colorize_weights)]
    models, _, _ = runner.load_bench_models(refs, task="pipeline", device="cpu")
    rows = build_rows("pipeline", models, orders=["deblur-first", "colorize-first"])
    assert rows[0].session is None and all(row.session is not None for row in rows[1:])
    data = datasets.synthetic(count=1, task="pipeline", height=32, width=48)
    result = run_benchmark(data, rows, warmup=False)
    assert seen == [1, 3] and [r["order"] for r in result.records[1:]] == ["deblur-first", "colorize-first"]
    pixels = data.samples[0].load()[0].astype(np.float32) / 255
    deblur, colorizer = (m.loaded for m in models)
    product = tasks.Pipeline(deblur_model=deblur, colorize_model=colorizer, engine=Engine("cpu"))
    np.testing.assert_allclose(runner._apply(rows[1], pixels), product(pixels), atol=1e-6)
