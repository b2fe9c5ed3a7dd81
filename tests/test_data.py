"""Blur synthesis, training datasets and validation sets (tiny images made here; no downloads)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from restore_cli.data.datasets import PairedDataset, SharpPhotoDataset, find_pairs, make_loader
from restore_cli.data.synth import (
    Degradation,
    blur_linear,
    convolve,
    defocus_kernel,
    gaussian_kernel,
    motion_kernel,
    rasterize_trajectory,
    to_linear,
    to_srgb,
)
from restore_cli.data.validation import kernel_val_set, load_kernels


def _photo(h: int = 80, w: int = 96, seed: int = 0) -> np.ndarray:
    """A uint8 RGB test photo with edges, gradients and texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x / w, y / h, ((x // 8 + y // 8) % 2).astype(float)], -1) * 200
    img += rng.uniform(0, 55, size=img.shape)
    return img.astype(np.uint8)


def _write(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


@pytest.mark.parametrize("seed", range(8))
def test_motion_kernels_are_normalised_and_non_negative(seed: int) -> None:
    k = motion_kernel(np.random.default_rng(seed), size=21)
    assert k.shape == (21, 21)
    assert k.dtype == np.float32
    assert k.min() >= 0
    assert abs(float(k.sum()) - 1.0) < 1e-5
    assert (k > 0).sum() > 1  # a path, not a single point


def test_trajectory_rasterisation_is_sub_pixel() -> None:
    # A horizontal path from x=-2.5 to x=+2.5 around the centre: the splatted mass is centred exactly.
    path = np.linspace(-2.5, 2.5, 11) + 0j
    k = rasterize_trajectory(path, 9)
    ys, xs = np.mgrid[0:9, 0:9]
    assert abs(float((k * xs).sum()) - 4.0) < 1e-6
    assert abs(float((k * ys).sum()) - 4.0) < 1e-6
    assert np.allclose(k[[0, 1, 2, 3, 5, 6, 7, 8]].sum(), 0)  # all mass on the middle row
    # Quarter-pixel samples split their mass between neighbouring columns (bilinear splatting).
    assert 0 < k[4, 2] < k[4, 4] and k[4, 1] > 0


def test_gaussian_sigma_zero_is_identity() -> None:
    img = _photo().astype(np.float32) / 255.0
    k = gaussian_kernel(0.0)
    assert k.shape == (1, 1) and k[0, 0] == 1.0
    assert np.allclose(blur_linear(img, k), img, atol=1e-6)


def test_gaussian_and_defocus_kernels_sum_to_one() -> None:
    for k in (gaussian_kernel(0.7), gaussian_kernel(3.0), defocus_kernel(2.5), defocus_kernel(6.0)):
        assert k.min() >= 0 and abs(float(k.sum()) - 1.0) < 1e-5
    d = defocus_kernel(3.0)
    assert d[d.shape[0] // 2, d.shape[1] // 2] > 0 and d[0, 0] == 0  # a disk: centre lit, corner dark


def test_linear_light_blur_differs_from_srgb_blur_as_expected() -> None:
    # A black/white edge: averaging in linear light makes the transition brighter than averaging codes.
    img = np.zeros((1, 20, 1), dtype=np.float32)
    img[:, 10:] = 1.0
    k = np.full((1, 5), 0.2, dtype=np.float32)
    lin = blur_linear(img, k)
    srgb = convolve(img, k)
    middle = lin[0, 9, 0]  # 2 of 5 white samples
    assert abs(float(srgb[0, 9, 0]) - 0.4) < 1e-6
    assert abs(float(middle) - 0.4 ** (1 / 2.2)) < 1e-5
    assert np.all(lin >= srgb - 1e-6)
    # Flat regions are unchanged either way.
    assert lin[0, 0, 0] == 0 and abs(lin[0, 19, 0] - 1) < 1e-6
    assert np.allclose(to_srgb(to_linear(img)), img, atol=1e-6)


def test_convolution_is_true_convolution() -> None:
    img = np.zeros((9, 9), dtype=np.float32)
    img[4, 4] = 1.0
    k = np.zeros((3, 3), dtype=np.float32)
    k[0, 2] = 1.0  # a delta up-right of centre: a point spreads to the same offset
    out = convolve(img, k)
    assert out[3, 5] == 1.0


def test_degradation_is_deterministic_and_in_range() -> None:
    img = _photo().astype(np.float32) / 255.0
    d = Degradation()
    a = d.apply(img, np.random.default_rng(3))
    b = d.apply(img, np.random.default_rng(3))
    assert np.array_equal(a, b)
    assert a.shape == img.shape and a.dtype == np.float32
    assert 0 <= a.min() and a.max() <= 1
    with pytest.raises(ValueError):
        Degradation(kind="zoom")


def test_sharp_photo_dataset(tmp_path: Path) -> None:
    _write(tmp_path / "a" / "one.png", _photo(seed=1))
    _write(tmp_path / "b" / "two.jpg", _photo(100, 70, seed=2))
    ds = SharpPhotoDataset(tmp_path, patch=32, degradation=Degradation(kind="motion", kernel_size=15), seed=5)
    assert ds.num_photos == 2
    blurred, sharp = ds[7]
    assert blurred.shape == sharp.shape == (3, 32, 32)
    assert float((blurred - sharp).abs().mean()) > 0
    again_b, again_s = ds[7]
    assert np.array_equal(again_b.numpy(), blurred.numpy()) and np.array_equal(again_s.numpy(), sharp.numpy())
    gray = SharpPhotoDataset(tmp_path, patch=16, seed=5, gray=True)
    assert gray[0][0].shape == (1, 16, 16)


def test_loader_matches_dataset_order(tmp_path: Path) -> None:
    _write(tmp_path / "one.png", _photo(seed=1))
    ds = SharpPhotoDataset(tmp_path, patch=16, degradation=Degradation(kind="gaussian"), seed=1)
    batch_blur, _ = next(iter(make_loader(ds, batch=3, start=6, workers=0)))
    for j in range(3):
        assert np.array_equal(batch_blur[j].numpy(), ds[6 + j][0].numpy())


def test_paired_layouts(tmp_path: Path) -> None:
    for scene in ("s1", "s2"):
        for name in ("000.png", "001.png"):
            img = _photo(seed=hash((scene, name)) % 100)
            _write(tmp_path / "gopro" / scene / "blur" / name, img)
            _write(tmp_path / "gopro" / scene / "sharp" / name, img)
    _write(tmp_path / "flat" / "input" / "x.png", _photo())
    _write(tmp_path / "flat" / "target" / "x.png", _photo())
    _write(tmp_path / "flat" / "input" / "orphan.png", _photo())
    assert len(find_pairs(tmp_path / "gopro")) == 4
    assert len(find_pairs(tmp_path / "flat")) == 1
    ds = PairedDataset(tmp_path / "gopro", patch=24)
    blurred, sharp = ds[3]
    assert blurred.shape == (3, 24, 24)
    assert np.array_equal(blurred.numpy(), sharp.numpy())  # same files: crops are aligned


def test_kernel_val_set_is_fixed(tmp_path: Path) -> None:
    kdir = tmp_path / "kernels"
    kdir.mkdir()
    k = np.zeros((9, 9), dtype=np.float32)
    k[4, 1:8] = 1.0
    np.save(kdir / "k1.npy", k)
    _write(tmp_path / "val" / "a.png", _photo(120, 100))
    assert abs(float(load_kernels(kdir)[0].sum()) - 1) < 1e-6
    v1 = kernel_val_set(tmp_path / "val", kdir, size=64, seed=0)
    v2 = kernel_val_set(tmp_path / "val", kdir, size=64, seed=0)
    assert len(v1) == 1 and v1.blurred[0].shape == (64, 64, 3) and v1.blurred[0].dtype == np.uint8
    assert np.array_equal(v1.blurred[0], v2.blurred[0])
    assert not np.array_equal(v1.blurred[0], v1.sharp[0])
    assert "recorded kernels" in v1.recipe


# -- pair writers ---


def _write_video(path: Path, n_static: int = 12, n_moving: int = 12, size: int = 64) -> None:
    """A synthetic video: a square moving right, then a hard cut to a different, static scene."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (size, size))
    assert writer.isOpened()
    for t in range(n_moving):
        frame = np.full((size, size, 3), 40, np.uint8)
        x = 4 + 3 * t
        frame[20:44, x : x + 12] = 230
        writer.write(frame)
    for _ in range(n_static):
        frame = np.full((size, size, 3), 200, np.uint8)
        frame[10:30, 10:30] = (20, 60, 180)
        writer.write(frame)
    writer.release()


def test_from_video_averages_frames_and_respects_scene_cuts(tmp_path: Path) -> None:
    from restore_cli.data.tools import video_to_pairs

    video = tmp_path / "clip.avi"
    _write_video(video)
    stats = video_to_pairs(video, tmp_path / "out", frames=(5, 5), every=5, scene_threshold=0.2)
    assert stats.frames == 24 and stats.scene_cuts == 1
    pairs = find_pairs(tmp_path / "out")
    assert len(pairs) == stats.pairs >= 3
    for blur_path, sharp_path in pairs:
        blur = cv2.imread(str(blur_path)).astype(float)
        sharp = cv2.imread(str(sharp_path)).astype(float)
        # No window mixes the two scenes: each background keeps its own brightness.
        assert abs(blur[0, 0].mean() - sharp[0, 0].mean()) < 8
    moving_blur = cv2.imread(str(pairs[0][0])).astype(float)
    moving_sharp = cv2.imread(str(pairs[0][1])).astype(float)
    assert np.abs(moving_blur - moving_sharp).mean() > 3  # motion blurred the moving square
    static_blur = cv2.imread(str(pairs[-1][0])).astype(float)
    static_sharp = cv2.imread(str(pairs[-1][1])).astype(float)
    assert np.abs(static_blur - static_sharp).mean() < 3  # a still scene averages to itself


def test_average_frames_is_linear_light() -> None:
    from restore_cli.data.tools import average_frames

    black = np.zeros((2, 2, 3), np.uint8)
    white = np.full((2, 2, 3), 255, np.uint8)
    out = average_frames([black, white])
    assert abs(int(out[0, 0, 0]) - round(255 * 0.5 ** (1 / 2.2))) <= 1  # 186, not 128


def test_data_cli_synth_and_from_video(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from restore_cli.cli import app  # the root app: its one error handler maps errors to exit codes

    _write(tmp_path / "sharp" / "a.png", _photo(48, 48))
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["data", "synth", "--sharp", str(tmp_path / "sharp"), "--out", str(tmp_path / "pairs"),
         "--per-image", "2"],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    pairs = find_pairs(tmp_path / "pairs")
    assert len(pairs) == 2
    assert cv2.imread(str(pairs[0][0])).shape == (48, 48, 3)
    _write_video(tmp_path / "v.avi")
    result = runner.invoke(
        app,
        ["data", "from-video", str(tmp_path / "v.avi"), "--out", str(tmp_path / "vid"), "--frames", "3-5"],
    )
    assert result.exit_code == 0, result.output
    assert '"scene_cuts": 1' in result.stdout
    result = runner.invoke(
        app, ["data", "from-video", str(tmp_path / "v.avi"), "--out", str(tmp_path / "x"), "--frames", "1"]
    )
    assert result.exit_code == 2


def test_kernel_pairs_use_the_recorded_kernels_on_whole_photos(tmp_path):
    """`restore data synth --kernels` blurs whole photos by one recorded kernel each, deterministically."""
    import cv2

    from restore_cli.data.synth import blur_linear
    from restore_cli.data.tools import write_kernel_pairs

    sharp_dir, kdir = tmp_path / "sharp", tmp_path / "kernels"
    sharp_dir.mkdir()
    kdir.mkdir()
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    cv2.imwrite(str(sharp_dir / "a.png"), photo[..., ::-1])
    kernel = np.zeros((5, 5), np.float32)
    kernel[2, :] = 1.0  # horizontal line: symmetric under the random transpose only if we test both
    np.save(kdir / "k.npy", kernel)
    assert write_kernel_pairs(sharp_dir, tmp_path / "out", kdir, seed=0) == 1
    blur = cv2.imread(str(tmp_path / "out/synth/blur/00000_00.png"))[..., ::-1]
    sharp = cv2.imread(str(tmp_path / "out/synth/sharp/00000_00.png"))[..., ::-1]
    assert np.array_equal(sharp, photo) and blur.shape == photo.shape
    candidates = [kernel / kernel.sum(), np.ascontiguousarray(kernel.T) / kernel.sum()]
    expected = [
        np.clip(blur_linear(photo.astype(np.float32) / 255.0, k) * 255 + 0.5, 0, 255) for k in candidates
    ]
    assert min(np.abs(blur.astype(np.float32) - e.astype(np.uint8)).max() for e in expected) <= 1
