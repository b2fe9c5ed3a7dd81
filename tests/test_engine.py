"""Tiled engine: tiled == untiled, no seams, odd sizes, passes, colorization keeps L, device checks."""

from __future__ import annotations

import dataclasses
import sys
import types

import numpy as np
import pytest
import torch
from torch import nn

from restore_cli.engine import (
    Engine,
    axis_weights,
    resolve_device,
    resolve_precision,
    resolve_threads,
    tile_starts,
)
from restore_cli.errors import OutOfMemoryError, UsageError
from restore_cli.models import get_arch
from restore_cli.models.descriptor import ModelDescriptor


def fake_model(
    module: nn.Module,
    size_multiple: int = 1,
    in_channels: int = 3,
    work_size: int | None = None,
    supports_half: bool = True,
    task: str = "deblur",
    bytes_per_pixel: int = 4 * 32 * 24,
) -> ModelDescriptor:
    """A descriptor for a stand-in module (no architecture); colorizers' heads are the module's ``head``."""
    head = "image" if task.startswith("deblur") else module.head
    return ModelDescriptor(
        module,
        task=task,
        in_channels=in_channels,
        out_channels={"image": in_channels, "ab": 2, "bins": 313}[head],
        size_multiple=size_multiple,
        head=head,
        supports_half=supports_half,
        work_size=work_size,
        bytes_per_pixel=bytes_per_pixel,
        name="test-model",
    )


@pytest.fixture(autouse=True)
def _color_module(monkeypatch):
    """Use restore_cli.color when it exists; otherwise a scikit-image stand-in with the same numpy API."""
    try:
        import restore_cli.color  # noqa: F401
    except ImportError:
        from skimage import color as skcolor

        stand_in = types.ModuleType("restore_cli.color")
        stand_in.rgb_to_lab_np = lambda rgb: skcolor.rgb2lab(rgb).astype(np.float32)
        stand_in.lab_to_rgb_np = lambda lab: skcolor.lab2rgb(lab).astype(np.float32)
        monkeypatch.setitem(sys.modules, "restore_cli.color", stand_in)
        import restore_cli

        monkeypatch.setattr(restore_cli, "color", stand_in, raising=False)


def tiny_nafnet(in_channels: int = 3, seed: int = 0) -> ModelDescriptor:
    torch.manual_seed(seed)
    spec = get_arch("nafnet")
    hyper = spec.hyper(in_channels=in_channels, width=4, enc_blocks=[1], middle_blocks=1, dec_blocks=[1])
    return ModelDescriptor.describe(spec.build(**hyper).eval(), spec, hyper)


class BoxBlur(nn.Module):
    """A 5x5 box filter with zero padding: dark borders on every tile, which blending must hide."""

    size_multiple = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        kernel = torch.full((c, 1, 5, 5), 1 / 25, dtype=x.dtype, device=x.device)
        return nn.functional.conv2d(x, kernel, padding=2, groups=c)


def smooth_image(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 0.5 + 0.3 * np.sin(xx / 7.0)[..., None] * np.cos(yy / 5.0)[..., None]
    noise = rng.uniform(-0.1, 0.1, size=(h, w, c)).astype(np.float32)
    return np.clip(base + noise, 0, 1).astype(np.float32)


def test_axis_weights_sum_to_one_and_tiles_cover():
    for length, tile, stride in [(100, 32, 16), (33, 32, 16), (7, 32, 16), (130, 64, 48)]:
        size = min(tile, length)
        starts = tile_starts(length, size, stride)
        assert starts[0] == 0 and starts[-1] + size >= length
        total = np.zeros(length)
        for start, w in zip(starts, axis_weights(length, starts, size)):
            assert len(w) == min(start + size, length) - start
            total[start : start + len(w)] += w
        np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_pad_to_multiple_reflects_as_numpy_and_handles_one_pixel():
    from restore_cli.models.descriptor import pad_to_multiple

    def padded(a: np.ndarray, multiple: int) -> np.ndarray:
        out = pad_to_multiple(torch.from_numpy(a.transpose(2, 0, 1))[None], multiple)
        return out[0].numpy().transpose(1, 2, 0)

    a = np.arange(12, dtype=np.float32).reshape(3, 4, 1)
    p = padded(a, 4)
    assert p.shape == (4, 4, 1)
    np.testing.assert_array_equal(p[3], a[1])  # reflect: row 3 mirrors row 1
    rng = np.random.default_rng(0)
    for h, w, multiple in [(3, 5, 16), (2, 2, 64), (7, 9, 8), (17, 2, 16)]:  # pads longer than the image too
        b = rng.random((h, w, 2), dtype=np.float32)
        want = np.pad(b, ((0, -h % multiple), (0, -w % multiple), (0, 0)), mode="reflect")
        np.testing.assert_array_equal(padded(b, multiple), want)
    one = padded(np.full((1, 1, 3), 0.25, np.float32), 16)
    assert one.shape == (16, 16, 3) and (one == 0.25).all()
    column = np.arange(2, dtype=np.float32).reshape(2, 1, 1)
    np.testing.assert_array_equal(padded(column, 16), np.pad(column, ((0, 14), (0, 15), (0, 0)), mode="edge"))


@pytest.mark.parametrize("seed", [0, 1])
def test_tiled_equals_untiled_on_conv_model(seed):
    loaded = tiny_nafnet(seed=seed)
    # Non-zero residual scales so the NAF blocks do real work (they start as identity).
    with torch.no_grad():
        for name, p in loaded.module.named_parameters():
            if name.endswith("beta") or name.endswith("gamma"):
                p.uniform_(-0.5, 0.5)
    image = smooth_image(77, 101, seed=seed)
    engine = Engine("cpu")
    whole = engine.run_deblur(loaded, image, tile=0)
    tiled = engine.run_deblur(loaded, image, tile=40, overlap=16)
    assert whole.shape == tiled.shape == image.shape
    assert not np.allclose(whole, image, atol=1e-2)  # the model changes the image
    # Channel attention pools over what it sees, so compare a model with a local receptive field:
    loaded.module.set_tlc(None)
    with torch.no_grad():  # tracked by torch (unlike .data), so the engine remakes the inference form
        for block in loaded.module.modules():
            if hasattr(block, "sca"):
                block.beta.zero_()
    whole = engine.run_deblur(loaded, image, tile=0)
    tiled = engine.run_deblur(loaded, image, tile=40, overlap=16)
    assert np.abs(whole - tiled).max() < 1e-3


def test_tiled_equals_untiled_plain_conv_stack():
    torch.manual_seed(3)
    module = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 3, 3, padding=1),
    ).eval()
    loaded = fake_model(module)
    image = smooth_image(65, 90, seed=2)
    engine = Engine("cpu")
    whole = engine.run_deblur(loaded, image, tile=0)
    tiled = engine.run_deblur(loaded, image, tile=24, overlap=16)
    assert np.abs(whole - tiled).max() < 1e-3


def test_no_seam_on_smooth_ramp():
    h, w = 48, 160
    ramp = np.tile(np.linspace(0.2, 0.8, w, dtype=np.float32)[None, :, None], (h, 1, 3))
    engine = Engine("cpu")
    loaded = fake_model(BoxBlur())
    out = engine.run_deblur(loaded, ramp, tile=32, overlap=16)
    inner = out[8:-8, 8:-8, 0]
    steps = np.abs(np.diff(inner, axis=1))
    slope = 0.6 / (w - 1)
    assert steps.max() < slope * 1.05 + 1e-4, steps.max()
    vertical = np.abs(np.diff(inner, axis=0))
    assert vertical.max() < 1e-4


def test_untiled_box_blur_shows_why_blending_matters():
    """Sanity check of the seam test: naive tiles without overlap leave a visible step."""
    h, w = 32, 64
    ramp = np.tile(np.linspace(0.2, 0.8, w, dtype=np.float32)[None, :, None], (h, 1, 3))
    out = Engine("cpu").run_deblur(fake_model(BoxBlur()), ramp, tile=32, overlap=0)
    assert np.abs(np.diff(out[8:-8, 8:-8, 0], axis=1)).max() > 0.05


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 9, 3), (17, 5, 3), (33, 47, 1), (2, 2, 1)])
@pytest.mark.parametrize("tile", ["auto", 0, 16])
def test_odd_sizes_keep_shape(shape, tile):
    loaded = tiny_nafnet()
    image = np.random.default_rng(0).uniform(size=shape).astype(np.float32)
    out = Engine("cpu").run_deblur(loaded, image, tile=tile, overlap=8)
    assert out.shape == shape and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_gray_input_to_rgb_model_returns_gray():
    loaded = tiny_nafnet(in_channels=3)
    gray = smooth_image(20, 30, c=1)
    out = Engine("cpu").run_deblur(loaded, gray, tile=0)
    assert out.shape == gray.shape
    rgb = Engine("cpu").run_deblur(loaded, np.repeat(gray, 3, axis=2), tile=0)
    np.testing.assert_allclose(out[..., 0], rgb.mean(axis=2), atol=1e-6)


def test_rgb_input_to_gray_model_runs_per_channel():
    loaded = tiny_nafnet(in_channels=1)
    image = smooth_image(20, 30, c=3)
    out = Engine("cpu").run_deblur(loaded, image, tile=0)
    assert out.shape == image.shape
    green = Engine("cpu").run_deblur(loaded, image[..., 1:2], tile=0)
    np.testing.assert_allclose(out[..., 1:2], green, atol=1e-6)


def test_passes_two_equals_applying_twice():
    loaded = tiny_nafnet(seed=4)
    image = smooth_image(40, 52)
    engine = Engine("cpu")
    once = engine.run_deblur(loaded, image, tile=32, overlap=16)
    twice = engine.run_deblur(loaded, once, tile=32, overlap=16)
    both = engine.run_deblur(loaded, image, tile=32, overlap=16, passes=2)
    np.testing.assert_allclose(both, twice, atol=1e-6)
    assert not np.allclose(once, twice, atol=1e-4)


def test_input_array_is_not_modified():
    image = smooth_image(30, 30)
    before = image.copy()
    Engine("cpu").run_deblur(tiny_nafnet(), image, tile=16, overlap=8, passes=2)
    np.testing.assert_array_equal(image, before)


def test_bad_arguments_are_usage_errors():
    engine = Engine("cpu")
    loaded = tiny_nafnet()
    image = smooth_image(8, 8)
    with pytest.raises(UsageError):
        engine.run_deblur(loaded, image, tile="big")
    with pytest.raises(UsageError):
        engine.run_deblur(loaded, image, passes=0)
    with pytest.raises(UsageError):
        engine.run_deblur(loaded, np.zeros((8, 8, 4), np.float32))


class OomAbove(nn.Module):
    """Identity that raises torch's out-of-memory error for inputs larger than ``limit`` pixels per side."""

    size_multiple = 8

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.sides: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sides.append(max(x.shape[-2:]))
        if max(x.shape[-2:]) > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return x


def test_out_of_memory_halves_the_tile():
    module = OomAbove(limit=64)
    loaded = fake_model(module, size_multiple=8)
    image = smooth_image(100, 150)
    out = Engine("cpu").run_deblur(loaded, image, tile=256, overlap=16)
    np.testing.assert_allclose(out, image, atol=1e-5)
    assert max(module.sides) > 64 and module.sides[-1] <= 64


def test_out_of_memory_at_minimum_tile_raises():
    loaded = fake_model(OomAbove(limit=4), size_multiple=8)
    with pytest.raises(OutOfMemoryError, match="out of memory"):
        Engine("cpu").run_deblur(loaded, smooth_image(100, 100), tile=128, overlap=16)


def test_other_model_errors_are_not_swallowed():
    class Broken(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        Engine("cpu").run_deblur(fake_model(Broken()), smooth_image(8, 8), tile=0)


def test_auto_tile_is_a_bounded_multiple():
    loaded = dataclasses.replace(tiny_nafnet(), size_multiple=16, bytes_per_pixel=4 * 24 * 16)
    tile = Engine("cpu").auto_tile(loaded)
    assert tile % 16 == 0 and 64 <= tile <= 2048


def test_auto_tile_runs_an_image_that_fits_the_budget_whole(monkeypatch):
    import restore_cli.engine as engine_module

    monkeypatch.setattr(engine_module, "available_memory", lambda device: 8 * 2**30)  # budget: 1.5 GiB
    loaded = dataclasses.replace(tiny_nafnet(), size_multiple=16, bytes_per_pixel=1536)
    engine = Engine("cpu")
    side = engine.auto_tile(loaded)
    assert side == 1024
    assert engine.auto_tile(loaded, (720, 1280)) == 0  # 0.92 Mpx < 1024 x 1024: one pass, no overlap work
    assert engine.auto_tile(loaded, (1080, 1920)) == side  # 2 Mpx: tiles


def test_resolve_device_and_precision():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in {"cpu", "cuda", "mps"}
    with pytest.raises(UsageError):
        resolve_device("tpu")
    with pytest.raises(UsageError):
        resolve_device("cuda:x")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="cuda"):
            resolve_device("cuda:0")
    with pytest.raises(UsageError, match="fp16"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(UsageError):
        resolve_precision("fp8", "cpu")
    assert resolve_precision("bf16", "cpu") == torch.bfloat16
    assert resolve_precision("fp32", "cpu") == torch.float32


def test_bf16_on_cpu_close_to_fp32_and_fallback_note():
    loaded = tiny_nafnet()
    image = smooth_image(24, 24)
    fp32 = Engine("cpu").run_deblur(loaded, image, tile=0)
    bf16 = Engine("cpu", precision="bf16").run_deblur(loaded, image, tile=0)
    assert np.abs(fp32 - bf16).max() < 0.05
    engine = Engine("cpu", precision="bf16")
    loaded.supports_half = False
    np.testing.assert_allclose(engine.run_deblur(loaded, image, tile=0), fp32, atol=1e-6)
    assert any("fp32" in note for note in engine.notes)


class ConstantAb(nn.Module):
    """Colorizer stand-in: ab depends on L, predicted at a quarter of the working resolution."""

    size_multiple = 4
    head = "ab"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, ...]] = []

    def forward(self, l: torch.Tensor) -> torch.Tensor:
        self.seen.append(tuple(l.shape))
        small = nn.functional.avg_pool2d(l, 4)
        return torch.cat([20 * small + 8, -15 * small - 5], 1)


def test_colorize_keeps_lightness_and_uses_work_size():
    from restore_cli import color

    module = ConstantAb()
    loaded = fake_model(module, size_multiple=4, in_channels=1, work_size=32, task="colorize")
    yy, xx = np.mgrid[0:75, 0:123].astype(np.float32)
    gray = (0.35 + 0.3 * (xx / 123.0) * (yy / 75.0))[..., None].astype(np.float32)
    out = Engine("cpu").run_colorize(loaded, gray)
    assert out.shape == (75, 123, 3) and out.dtype == np.float32
    assert min(module.seen[0][-2:]) >= 32 and module.seen[0][-2] == 32  # shorter side at work_size
    l_in = color.rgb_to_lab_np(np.repeat(gray, 3, axis=2))[..., 0]
    lab_out = color.rgb_to_lab_np(out)
    assert np.abs(lab_out[..., 0] - l_in).max() < 0.05
    assert np.abs(lab_out[..., 1]).mean() > 3  # colour was actually added
    # An RGB input gives the same L as its own.
    rgb = np.concatenate([gray, gray * 0.9, gray * 1.1], axis=2).clip(0, 1).astype(np.float32)
    out_rgb = Engine("cpu").run_colorize(loaded, rgb)
    l_rgb = color.rgb_to_lab_np(rgb)[..., 0]
    assert np.abs(color.rgb_to_lab_np(out_rgb)[..., 0] - l_rgb).max() < 0.05


def test_colorize_tiny_image():
    loaded = fake_model(ConstantAb(), size_multiple=4, in_channels=1, work_size=16, task="colorize")
    out = Engine("cpu").run_colorize(loaded, np.full((1, 1, 1), 0.5, np.float32))
    assert out.shape == (1, 1, 3) and np.isfinite(out).all()


def test_colorize_long_strip_work_size_is_capped():
    module = ConstantAb()
    loaded = fake_model(module, size_multiple=4, in_channels=1, work_size=16, task="colorize")
    out = Engine("cpu").run_colorize(loaded, np.full((4, 300, 1), 0.5, np.float32))
    assert out.shape == (4, 300, 3)
    assert max(module.seen[0][-2:]) <= 8 * 16 + 4  # long side capped at 8 x work_size (plus padding)


class PeakedBins(nn.Module):
    """A 313-bin colorizer stand-in: every pixel sure of one colour, at a quarter of the working size."""

    size_multiple = 4
    head = "bins"

    def logits(self, l: torch.Tensor) -> torch.Tensor:
        from restore_cli import color

        small = nn.functional.avg_pool2d(l, 4)
        target = torch.tensor([10.0, -12.0]).view(1, 2, 1, 1) + 0 * small
        d2 = ((color.ab_bins().view(1, -1, 2, 1, 1) - target.unsqueeze(1)) ** 2).sum(2)
        return -d2 / 8.0

    def forward(self, l: torch.Tensor) -> torch.Tensor:
        raise AssertionError("the engine decodes 313-bin models from their logits")


def test_colorize_strength_scales_ab_and_keeps_lightness():
    from restore_cli import color
    from restore_cli.errors import UsageError

    loaded = fake_model(PeakedBins(), size_multiple=4, in_channels=1, work_size=16, task="colorize")
    yy, xx = np.mgrid[0:40, 0:56].astype(np.float32)
    gray = (0.3 + 0.2 * xx / 56.0)[..., None].astype(np.float32)
    l_in = color.rgb_to_lab_np(np.repeat(gray, 3, axis=2))[..., 0]
    engine = Engine("cpu")
    labs = {s: color.rgb_to_lab_np(engine.run_colorize(loaded, gray, strength=s)) for s in (0.0, 1.0, 2.0)}
    for lab in labs.values():
        assert np.abs(lab[..., 0] - l_in).max() < 0.05  # L is the input's at every strength
    assert np.abs(labs[0.0][..., 1:]).max() < 0.5  # strength 0: gray
    one, two = labs[1.0][..., 1:], labs[2.0][..., 1:]
    assert np.abs(one).mean() > 8  # colour was added
    np.testing.assert_allclose(two, 2 * one, atol=1.5)  # strength scales ab (in gamut here)
    with pytest.raises(UsageError, match="strength"):
        engine.run_colorize(loaded, gray, strength=2.5)


@pytest.mark.parametrize("task", ["deblur", "colorize"])
def test_shipped_default_runs_in_its_inference_form_with_the_same_output(task):
    from restore_cli.weights import load_model

    loaded = load_model(None, task=task)  # the weights shipped in the repository's weights/ folder
    image = smooth_image(72, 104, seed=4)
    engine = Engine("cpu")
    run = engine.run_deblur if task == "deblur" else engine.run_colorize
    fast = run(loaded, image)
    assert loaded._inference is not None  # the engine asked for the inference form
    eager = dataclasses.replace(loaded, spec=None, _inference=None)  # no spec: the trained form runs
    assert np.abs(fast - run(eager, image)).max() < 1e-4


# --- threads


@pytest.fixture
def policy(monkeypatch):
    """Control the inputs of the default thread policy: no env choices, a given core count and load."""
    import restore_cli.engine as engine_module

    monkeypatch.delenv("RESTORE_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)

    def set_machine(cores: int, load: float) -> None:
        monkeypatch.setattr(engine_module, "usable_cores", lambda: cores)
        monkeypatch.setattr(engine_module.os, "getloadavg", lambda: (load, load, load))

    return set_machine


@pytest.mark.parametrize(
    ("cores", "load", "expected"),
    [(2, 0.0, 2), (2, 0.4, 2), (2, 0.9, 2), (2, 1.0, 1), (2, 6.0, 1), (8, 2.2, 6), (8, 0.0, 8), (1, 0.0, 1)],
)
def test_default_threads_leave_busy_cores_alone(policy, cores, load, expected):
    policy(cores, load)
    assert resolve_threads(None) == expected


def test_explicit_threads_beat_the_env_which_beats_the_policy(policy, monkeypatch):
    policy(2, 6.0)
    monkeypatch.setenv("RESTORE_THREADS", "3")
    assert resolve_threads(None) == 3
    assert resolve_threads(2) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # below RESTORE_THREADS
    assert resolve_threads(None) == 3


def test_omp_num_threads_is_respected_by_the_default(policy, monkeypatch):
    policy(2, 0.0)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert resolve_threads(None) == 1
    policy(2, 6.0)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert resolve_threads(None) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "4,2")  # a nested list: not a count, the policy decides
    assert resolve_threads(None) == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, float("nan"), float("inf"), True])
def test_bad_thread_counts_are_usage_errors(bad):
    with pytest.raises(UsageError, match="threads"):
        resolve_threads(bad)


@pytest.mark.parametrize("bad", ["0", "two", "-1"])
def test_bad_restore_threads_env_names_the_variable(policy, monkeypatch, bad):
    monkeypatch.setenv("RESTORE_THREADS", bad)
    with pytest.raises(UsageError, match="RESTORE_THREADS"):
        resolve_threads(None)


@pytest.fixture
def torch_threads(monkeypatch):
    """Torch's thread count is restored after the test; ``start(n)`` makes n torch's start-up count."""
    import restore_cli.engine as engine_module

    before = torch.get_num_threads()
    monkeypatch.setattr(engine_module, "_applied_threads", None)

    def start(n: int) -> None:
        monkeypatch.setattr(engine_module, "torch_default_threads", lambda: n)
        torch.set_num_threads(n)

    yield start
    torch.set_num_threads(before)


def test_engine_applies_the_resolved_thread_count(policy, torch_threads):
    torch_threads(2)  # nobody changed torch's count: the policy decides
    policy(2, 1.0)
    engine = Engine("cpu")
    assert engine.threads == 1 == torch.get_num_threads()
    assert Engine("cpu", threads=2).threads == 2 == torch.get_num_threads()
    policy(2, 0.0)
    assert Engine("cpu").threads == 2  # the count an earlier engine set is still the engine's to change


def test_engine_keeps_a_thread_count_the_caller_set(policy, monkeypatch, torch_threads):
    torch_threads(2)
    policy(2, 6.0)  # busy: the policy would say 1
    torch.set_num_threads(3)  # a library caller's choice
    assert Engine("cpu").threads == 3 == torch.get_num_threads()
    assert Engine("cpu", threads=1).threads == 1 == torch.get_num_threads()  # given: applied
    torch.set_num_threads(3)
    monkeypatch.setenv("RESTORE_THREADS", "2")  # the user's variable: applied too
    assert Engine("cpu").threads == 2 == torch.get_num_threads()


def test_torch_default_threads_counts_physical_cores_or_omp(monkeypatch):
    from restore_cli.engine import torch_default_threads, usable_cores

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert torch_default_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert 1 <= torch_default_threads() <= usable_cores()

