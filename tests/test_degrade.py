"""Blur synthesis in torch (restore_cli.data.degrade): the NumPy synthesis's blur, and the camera steps."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from restore_cli.data.datasets import SharpPhotoDataset
from restore_cli.data.degrade import (
    SCALARS,
    degrade_batch,
    draw_params,
    fft_blur,
    jpeg,
    motion_segments,
    pad_kernel,
    rotate,
)
from restore_cli.data.synth import (
    Degradation,
    blur_linear,
    convolve,
    defocus_kernel,
    gaussian_kernel,
    jpeg_roundtrip,
    motion_kernel,
)


def _photo(h: int = 48, w: int = 56, seed: int = 0, channels: int = 3) -> np.ndarray:
    """Smooth gradients, a checkerboard and mild texture (uint8 H x W x C)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x / w * 200, y / h * 200, ((x // 6 + y // 6) % 2) * 180.0], -1)[..., :channels]
    img = img + rng.uniform(0, 40, size=img.shape)
    return np.clip(cv2.GaussianBlur(img, (0, 0), 0.8).reshape(h, w, channels), 0, 255).astype(np.uint8)


def _batch(images: list[np.ndarray]) -> torch.Tensor:
    return torch.stack([torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))) for a in images])


def _params(kernels: list[np.ndarray], size: int, **scalars: float) -> dict[str, torch.Tensor]:
    values = {"gamma": 2.2, **scalars}
    row = [float(values.get(name, 0.0)) for name in SCALARS]
    return {
        "kernels": torch.from_numpy(np.stack([pad_kernel(k, size) for k in kernels]))[:, None],
        "scalars": torch.tensor([row] * len(kernels), dtype=torch.float32),
        "seed": torch.arange(len(kernels), dtype=torch.int64) + 7,
    }


def test_batched_fft_blur_equals_the_numpy_synthesis_per_sample() -> None:
    size = 15
    kernels = [
        motion_kernel(np.random.default_rng(3), size),
        gaussian_kernel(1.7),
        defocus_kernel(4.0),
        np.ones((1, 1), dtype=np.float32),
    ]
    images = [_photo(seed=i) for i in range(len(kernels))]
    out = degrade_batch(_batch(images), _params(kernels, size))
    r = size // 2
    for img, k, got in zip(images, kernels, out):
        want = blur_linear(img.astype(np.float32) / 255.0, k)
        got = got.permute(1, 2, 0).numpy()
        assert np.abs(got - want)[r:-r, r:-r].max() < 1e-5  # away from the borders the margin crops off


def test_fft_blur_is_a_true_convolution() -> None:
    x = torch.zeros(1, 1, 11, 11)
    x[0, 0, 5, 5] = 1.0
    k = np.zeros((3, 3), dtype=np.float32)
    k[0, 2] = 1.0  # an impulse response pointing up-right
    out = fft_blur(x, torch.from_numpy(k)[None])
    want = convolve(x[0, 0].numpy(), k)
    assert torch.allclose(out[0, 0], torch.from_numpy(want), atol=1e-6)


@pytest.mark.parametrize("gray", [False, True])
def test_device_inputs_equal_worker_inputs_when_only_blur_is_on(gray: bool) -> None:
    deg = Degradation(kind="mixed", kernel_size=9, p_noise=0.0, p_poisson=0.0, p_jpeg=0.0)
    images = [_photo(40, 44, s) for s in range(3)]
    kwargs = dict(patch=16, degradation=deg, seed=2, images=images, gray=gray)
    worker = SharpPhotoDataset("memory", **kwargs)
    device = SharpPhotoDataset("memory", on_device=True, **kwargs)
    raw = [device[i] for i in range(6)]
    batch = {k: torch.stack([r[k] for r in raw]) for k in raw[0]}
    blurred, sharp = device.make_inputs(batch, torch.device("cpu"))
    assert blurred.shape == sharp.shape == (6, 1 if gray else 3, 16, 16)
    for i in range(6):
        want_blurred, want_sharp = worker[i]
        assert torch.equal(sharp[i], want_sharp)
        assert torch.allclose(blurred[i], want_blurred, atol=1e-5)


def test_motion_segments_add_up_to_the_kernel_of_the_same_draw() -> None:
    parts, shares = motion_segments(np.random.default_rng(5), 21, 12.0, 4)
    whole, _ = motion_segments(np.random.default_rng(5), 21, 12.0, 1)
    assert parts.shape == (4, 21, 21) and whole.shape == (1, 21, 21)
    assert np.allclose(parts.sum(0), whole[0], atol=1e-6)
    assert abs(float(shares.sum()) - 1.0) < 1e-5 and (shares > 0).all()
    want = motion_kernel(np.random.default_rng(5), 21, length=12.0)
    assert np.allclose(whole[0], want, atol=1e-7)


def test_jpeg_matches_libjpeg_on_gray_and_is_close_on_colour() -> None:
    gray, rgb = _photo(48, 64, 1, channels=1), _photo(48, 64, 2)
    for q in (60, 90):
        want = jpeg_roundtrip(gray.astype(np.float32) / 255.0, q)
        got = jpeg(_batch([gray]).float() / 255.0, torch.tensor([float(q)]))[0].permute(1, 2, 0).numpy()
        assert np.abs(got - want).mean() * 255 < 0.35  # only the DCT's rounding differs
        want = jpeg_roundtrip(rgb.astype(np.float32) / 255.0, q)
        got = jpeg(_batch([rgb]).float() / 255.0, torch.tensor([float(q)]))[0].permute(1, 2, 0).numpy()
        own_error = np.abs(want - rgb / 255.0).mean()
        assert np.abs(got - want).mean() < own_error  # closer to libjpeg than libjpeg is to the photo
        assert abs(float(got.mean() - want.mean())) * 255 < 0.5


def test_jpeg_step_only_where_drawn() -> None:
    img = _photo()
    k = [np.ones((1, 1), dtype=np.float32)] * 2
    params = _params(k, 3)
    params["scalars"][0, SCALARS.index("jpeg_quality")] = 50.0
    out = degrade_batch(_batch([img, img]), params)
    plain = torch.from_numpy(img.transpose(2, 0, 1) / 255.0).float()
    assert torch.allclose(out[1], plain, atol=1e-5)
    assert (out[0] - plain).abs().mean() > 1e-3


def test_saturated_highlights_smear_further_and_clip() -> None:
    img = np.full((31, 31, 3), 40, dtype=np.uint8)
    img[15, 15] = 255  # one clipped highlight on a dark wall
    k = np.full((1, 9), 1 / 9, dtype=np.float32)
    plain = degrade_batch(_batch([img]), _params([k], 9))[0]
    bright = degrade_batch(_batch([img]), _params([k], 9, saturate_gain=12.0))[0]
    assert float(bright.max()) <= 1.0
    assert float(bright[0, 15, 19]) > float(plain[0, 15, 19]) + 0.1  # the streak's end is brighter
    assert torch.allclose(bright[:, :5], plain[:, :5])  # far from the highlight nothing changes
    assert float(bright[0, 15, 15]) == 1.0  # 12x the light spread over 9 pixels still clips


def test_sensor_noise_grows_with_light_and_repeats_with_the_seed() -> None:
    dark = np.full((32, 32, 1), 60, dtype=np.uint8)
    light = np.full((32, 32, 1), 220, dtype=np.uint8)
    one = [np.ones((1, 1), dtype=np.float32)] * 2
    params = _params(one, 1, poisson_peak=200.0, read_sigma=0.002)
    out = degrade_batch(_batch([dark, light]), params)
    lin = out.pow(2.2)
    assert float(lin[1].std()) > 2 * float(lin[0].std())  # shot noise: variance follows the signal
    assert torch.equal(out, degrade_batch(_batch([dark, light]), params))  # same seeds, same noise


def test_camera_response_round_trip_is_identity_without_blur() -> None:
    img = _photo()
    one = [np.ones((1, 1), dtype=np.float32)]
    for gamma in (1.8, 2.6):
        out = degrade_batch(_batch([img]), _params(one, 1, gamma=gamma))[0]
        assert torch.allclose(out, torch.from_numpy(img.transpose(2, 0, 1) / 255.0).float(), atol=1e-5)
    deg = Degradation(crf="random")
    gammas = [draw_params(deg, np.random.default_rng(s))["scalars"][0] for s in range(20)]
    assert min(gammas) >= 1.8 and max(gammas) <= 2.6 and max(gammas) - min(gammas) > 0.3


def test_rotation_copies_blur_more_far_from_the_centre() -> None:
    # A fine grid rotated about the crop's centre (rotation centres are drawn; here one copy is
    # compared with rotate() directly, and the whole step on a flat image must change nothing).
    x = torch.zeros(1, 1, 41, 41)
    x[0, 0, ::4] = 1.0
    turned = rotate(x, torch.tensor([3.0]), torch.tensor([[20.0, 20.0]]))
    diff = (turned - x).abs()[0, 0]
    assert float(diff[18:23, 18:23].mean()) < float(diff[:, :4].mean())  # still at the centre
    flat = np.full((40, 40, 3), 120, dtype=np.uint8)
    deg = Degradation(kind="motion", kernel_size=9, rotation_copies=3, rotation_degrees=2.0)
    params = draw_params(deg, np.random.default_rng(0))
    assert params["kernels"].shape == (3, 9, 9) and params["scalars"][SCALARS.index("angle")] != 0
    batch = {k: torch.as_tensor(np.asarray(v))[None] for k, v in params.items()}
    # The drawn angle is kept (the rotation branch runs); noise, JPEG and saturation are switched off.
    angle = float(params["scalars"][SCALARS.index("angle")])
    quiet = _params([np.ones((1, 1))], 1, angle=angle)["scalars"]
    assert float(quiet[0, SCALARS.index("angle")]) != 0
    out = degrade_batch(_batch([flat]), {**batch, "scalars": quiet})
    assert torch.allclose(out, torch.full_like(out, 120 / 255.0), atol=1e-4)


@pytest.mark.parametrize(
    "options",
    [
        {"p_saturate": 1.0},
        {"noise_model": "sensor", "p_noise": 1.0},
        {"crf": "random"},
        {"rotation_copies": 3, "kind": "motion"},
        {"kernel_size": 65, "kind": "motion", "p_noise": 0.0, "p_poisson": 0.0, "p_jpeg": 0.0},
    ],
)
def test_each_camera_option_runs_in_the_worker_and_on_the_device(options) -> None:
    deg = Degradation(kernel_size=options.pop("kernel_size", 15), **options)
    kwargs = dict(patch=8, degradation=deg, seed=1, images=[_photo(90, 90)])
    worker = SharpPhotoDataset("memory", **kwargs)
    blurred, sharp = worker[0]
    assert blurred.shape == sharp.shape == (3, 8, 8)
    assert 0.0 <= float(blurred.min()) and float(blurred.max()) <= 1.0
    assert torch.equal(worker[0][0], blurred)  # deterministic per index
    device = SharpPhotoDataset("memory", on_device=True, **kwargs)
    raw = device[0]
    dblurred, dsharp = device.make_inputs({k: v[None] for k, v in raw.items()}, torch.device("cpu"))
    assert torch.equal(dsharp[0], sharp)
    assert torch.allclose(dblurred[0], blurred, atol=1e-5)  # the same draws give the same input
    assert deg.describe()
