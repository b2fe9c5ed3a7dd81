"""Library API: deblur, colorize, Pipeline and inspect_image on numpy, PIL and io.Image inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from torch import nn

from restore_cli import color, io, tasks
from restore_cli.engine import Engine
from restore_cli.errors import NoDefaultWeightsError, UsageError
from restore_cli.models import create_model
from restore_cli.models.descriptor import ModelDescriptor


def FakeLoaded(  # noqa: N802 - stands in for a loaded model
    module: nn.Module,
    task: str = "deblur",
    size_multiple: int = 1,
    in_channels: int = 3,
    work_size: int | None = None,
    name: str = "fake",
) -> ModelDescriptor:
    """A descriptor for a stand-in module (no architecture): what the engine and tasks read."""
    head = "image" if task.startswith("deblur") else "ab"
    out_channels = in_channels if head == "image" else 2
    return ModelDescriptor(
        module, task, in_channels, out_channels, size_multiple, head, work_size=work_size, name=name
    )


class Darken(nn.Module):
    """A 'deblur' model whose effect is easy to predict: multiply by 0.8."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.8


class FixedAb(nn.Module):
    """A 'colorizer' predicting constant ab (a warm tint) at half resolution."""

    size_multiple = 2

    def forward(self, l: torch.Tensor) -> torch.Tensor:
        small = nn.functional.avg_pool2d(l, 2)
        return torch.cat([torch.full_like(small, 12.0), torch.full_like(small, 18.0)], 1)


DARKEN = FakeLoaded(Darken())
COLOR = FakeLoaded(FixedAb(), task="colorize", size_multiple=2, in_channels=1, work_size=16)


@pytest.fixture
def engine() -> Engine:
    return Engine("cpu")


class SpyEngine(Engine):
    """Records which operations ran, in order."""

    def __init__(self) -> None:
        super().__init__("cpu")
        self.calls: list[tuple[str, int]] = []

    def run_deblur(self, loaded, pixels, **kwargs):
        self.calls.append(("deblur", pixels.shape[2]))
        return super().run_deblur(loaded, pixels, **kwargs)

    def run_colorize(self, loaded, pixels, **kwargs):
        self.calls.append(("colorize", pixels.shape[2]))
        return super().run_colorize(loaded, pixels, **kwargs)


def sharp_rgb(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.2, 0.8, (h, w, 3)) * 255).astype(np.uint8)


def smooth_rgb(h: int = 24, w: int = 32) -> np.ndarray:
    xx = np.linspace(0.3, 0.6, w, dtype=np.float32)
    img = np.stack([np.tile(xx, (h, 1)), np.tile(xx, (h, 1)) * 0.9, np.full((h, w), 0.4, np.float32)], 2)
    return img


def blurry_rgb(h: int = 96, w: int = 128) -> np.ndarray:
    """A photo-like scene, defocused (Gaussian sigma 3): the blur detector calls it blurry."""
    import cv2

    from tests.imagefactory import make_scene

    return cv2.GaussianBlur(make_scene(h, w, seed=2), (0, 0), 3).astype(np.float32) / 255


def sharp_scene(h: int = 48, w: int = 64) -> np.ndarray:
    from tests.imagefactory import make_scene

    return make_scene(h, w, seed=2)


def test_deblur_numpy_uint8_keeps_kind_and_shape(engine):
    image = sharp_rgb()
    out = tasks.deblur(image, model=DARKEN, engine=engine)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == image.shape
    np.testing.assert_allclose(out.astype(float), np.round(image * 0.8), atol=1)


def test_deblur_2d_uint16_and_rgba_alpha_kept(engine):
    gray = (np.arange(20 * 30, dtype=np.uint16).reshape(20, 30) * 100).astype(np.uint16)
    out = tasks.deblur(gray, model=DARKEN, engine=engine)
    assert out.shape == gray.shape and out.dtype == np.uint16
    np.testing.assert_allclose(out.astype(float), gray * 0.8, atol=2)

    rgba = np.concatenate([sharp_rgb(), np.arange(24 * 32, dtype=np.uint8).reshape(24, 32, 1)], 2)
    out = tasks.deblur(rgba, model=DARKEN, engine=engine)
    assert out.shape == rgba.shape
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])


def test_deblur_pil_and_io_image(engine):
    pil = PILImage.fromarray(sharp_rgb(), "RGB")
    out = tasks.deblur(pil, model=DARKEN, engine=engine)
    assert isinstance(out, PILImage.Image) and out.mode == "RGB" and out.size == pil.size

    la = PILImage.fromarray(np.dstack([sharp_rgb()[..., 0], np.full((24, 32), 77, np.uint8)]), "LA")
    out = tasks.deblur(la, model=DARKEN, engine=engine)
    assert out.mode == "LA" and np.all(np.asarray(out)[..., 1] == 77)

    image = io.from_array(sharp_rgb())
    image.exif = b"Exif\x00\x00fake"
    out = tasks.deblur(image, model=DARKEN, engine=engine)
    assert isinstance(out, io.Image) and out.exif == image.exif and out.pixels.shape == (24, 32, 3)
    np.testing.assert_allclose(out.pixels, image.pixels * 0.8, atol=1e-5)


def test_deblur_with_weights_file_passes_twice_equals_twice(engine, tiny_deblur_weights):
    image = smooth_rgb(21, 35)
    once = tasks.deblur(image, model=str(tiny_deblur_weights), engine=engine)
    twice = tasks.deblur(once, model=tiny_deblur_weights, engine=engine)
    both = tasks.deblur(image, model=str(tiny_deblur_weights), passes=2, engine=engine)
    assert both.shape == image.shape
    np.testing.assert_allclose(both, twice, atol=1e-5)


def test_no_default_weights_is_a_clear_error(engine, no_shipped_weights):
    tasks.clear_model_cache()
    with pytest.raises(NoDefaultWeightsError, match="--weights"):
        tasks.deblur(sharp_rgb(), engine=engine)
    with pytest.raises(NoDefaultWeightsError):
        tasks.colorize(sharp_rgb(), engine=engine)


def test_gray_image_without_gray_default_gets_the_rgb_default(engine, monkeypatch, no_shipped_weights):
    """With no gray default installed, a gray image is deblurred by the RGB default, loaded once."""
    from restore_cli import weights

    monkeypatch.setattr(weights, "default_for", lambda task: None if task == "deblur-gray" else object())
    asked: list[str] = []

    def fake_load(ref=None, *, task, device="cpu"):
        asked.append(task)
        return DARKEN

    monkeypatch.setattr(weights, "load_model", fake_load)
    tasks.clear_model_cache()
    gray = np.full((10, 12), 200, np.uint8)
    out = tasks.deblur(gray, engine=engine)
    assert asked == ["deblur"] and out.shape == gray.shape
    assert abs(int(out[0, 0]) - 160) <= 1
    tasks.clear_model_cache()


def test_colorize_gray_gives_rgb_with_same_lightness(engine):
    yy, xx = np.mgrid[0:30, 0:44]
    gray = (90 + 60 * xx / 44 + 20 * yy / 30).astype(np.uint8)
    out = tasks.colorize(gray, model=COLOR, engine=engine)
    assert out.shape == (30, 44, 3) and out.dtype == np.uint8
    l_in = color.rgb_to_lab_np(np.repeat(gray[..., None], 3, 2).astype(np.float32) / 255)[..., 0]
    lab_out = color.rgb_to_lab_np(out.astype(np.float32) / 255)
    assert np.abs(lab_out[..., 0] - l_in).max() < 0.6  # 8-bit rounding of the output only
    assert lab_out[..., 1].mean() > 6 and lab_out[..., 2].mean() > 10


def test_colorize_strength_zero_is_gray_and_pipeline_passes_strength(engine):
    yy, xx = np.mgrid[0:30, 0:44]
    gray = (90 + 60 * xx / 44 + 20 * yy / 30).astype(np.uint8)
    out = tasks.colorize(gray, model=COLOR, engine=engine, strength=0)
    assert out.shape == (30, 44, 3)
    assert np.abs(out.astype(int) - gray[..., None].astype(int)).max() <= 1  # gray, lightness kept
    strong = tasks.Pipeline(order="colorize-first", colorize_model=COLOR, deblur_model=DARKEN, strength=2.0)
    weak = tasks.Pipeline(order="colorize-first", colorize_model=COLOR, deblur_model=DARKEN, strength=0.5)
    chroma = [float(np.abs(color.rgb_to_lab_np(p(gray).astype(np.float32) / 255)[..., 1:]).mean())
              for p in (strong, weak)]  # fmt: skip
    assert chroma[0] > 2.5 * chroma[1]
    for bad in (-1.0, 2.5):
        with pytest.raises(UsageError, match="strength"):
            tasks.colorize(gray, model=COLOR, engine=engine, strength=bad)
        with pytest.raises(UsageError, match="strength"):
            tasks.Pipeline(strength=bad)


def test_colorize_pil_la_gives_rgba_with_alpha(engine):
    la = PILImage.fromarray(
        np.dstack([np.full((12, 14), 120, np.uint8), np.full((12, 14), 9, np.uint8)]), "LA"
    )
    out = tasks.colorize(la, model=COLOR, engine=engine)
    assert out.mode == "RGBA" and out.size == (14, 12)
    assert np.all(np.asarray(out)[..., 3] == 9)


def test_io_image_colorized_becomes_rgb_mode(engine):
    image = io.from_array((np.ones((8, 8), np.uint16) * 30000).astype(np.uint16))
    assert image.mode == "I;16"
    out = tasks.colorize(image, model=COLOR, engine=engine)
    assert out.pixels.shape == (8, 8, 3) and out.mode == "RGB" and out.bit_depth == 16


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: sharp_rgb(), ["unchanged"]),
        (lambda: sharp_scene(), ["unchanged"]),
        (lambda: smooth_rgb(), ["unchanged"]),  # a smooth gradient has no edges to sharpen
        (lambda: blurry_rgb(), ["deblur"]),
        (lambda: np.repeat(sharp_scene()[..., :1], 3, 2), ["colorize"]),
        (lambda: np.repeat(blurry_rgb()[..., :1], 3, 2), ["deblur", "colorize"]),
        (lambda: blurry_rgb()[..., 0], ["deblur", "colorize"]),
    ],
)
def test_auto_plan(make, expected):
    assert tasks.Pipeline(order="auto").plan(make()) == expected


def test_colour_images_are_never_recoloured_unasked():
    colour = sharp_scene()
    gray = np.repeat(colour[..., :1], 3, 2)
    for order in ("deblur-first", "colorize-first"):
        assert tasks.Pipeline(order).plan(colour) == ["deblur"]
        assert tasks.Pipeline(order, recolor=True).plan(colour) == (
            ["deblur", "colorize"] if order == "deblur-first" else ["colorize", "deblur"]
        )
    assert tasks.Pipeline(only="colorize").plan(colour) == ["unchanged"]
    assert tasks.Pipeline(only="colorize").plan(gray) == ["colorize"]
    assert tasks.Pipeline(only="colorize", recolor=True).plan(colour) == ["colorize"]
    assert tasks.Pipeline(only="deblur").plan(colour) == ["deblur"]


def test_run_reports_steps_and_leaves_unchanged_images_alone():
    spy = SpyEngine()
    colour = sharp_scene()
    done = tasks.Pipeline(only="colorize", colorize_model=COLOR, engine=spy).run(colour)
    assert done.steps == ["unchanged"] and spy.calls == []
    np.testing.assert_array_equal(done.image, colour)
    gray = np.repeat(colour[..., :1], 3, 2)
    done = tasks.Pipeline("deblur-first", deblur_model=DARKEN, colorize_model=COLOR, engine=spy).run(gray)
    assert done.steps == ["deblur", "colorize"] and [c[0] for c in spy.calls] == ["deblur", "colorize"]
    spy.calls.clear()
    done = tasks.Pipeline("deblur-first", deblur_model=DARKEN, colorize_model=COLOR, engine=spy).run(colour)
    assert done.steps == ["deblur"] and [c[0] for c in spy.calls] == ["deblur"]


def test_on_tile_counts_every_tile_over_passes(engine):
    seen: list[tuple[int, int]] = []
    pixels = smooth_rgb(40, 40)
    tasks.deblur(
        pixels, model=DARKEN, engine=engine, tile=16, passes=2, on_tile=lambda d, t: seen.append((d, t))
    )
    total = seen[-1][1]
    assert seen[-1] == (total, total) and total % 2 == 0 and total >= 8
    assert [d for d, _ in seen] == list(range(1, total + 1))


def test_run_summary_names_models_device_threads_precision(engine):
    import torch

    line = tasks.run_summary(engine, {"deblur": DARKEN, "colorize": None})
    threads = torch.get_num_threads()
    assert "deblur fake" in line and "cpu" in line and "fp32" in line
    assert f"{threads} CPU thread{'s' if threads != 1 else ''}," in line


def test_blur_threshold_is_a_score_between_0_and_1():
    with pytest.raises(UsageError):
        tasks.Pipeline(order="auto", blur_threshold=100)
    assert tasks.Pipeline(order="auto", blur_threshold=0.0).plan(sharp_scene()) == ["deblur"]
    assert tasks.Pipeline(order="auto", blur_threshold=1.0).plan(sharp_scene()) == ["unchanged"]


def test_auto_plan_threshold_and_tolerance_overrides():
    sharp = sharp_rgb()
    assert tasks.Pipeline(order="auto", blur_threshold=0.0).plan(sharp) == ["deblur"]
    nearly_gray = np.repeat(sharp[..., :1], 3, 2).astype(np.int16)
    nearly_gray[..., 2] += 4  # 4/255 apart: colour under the default tolerance, gray with a looser one
    nearly_gray = nearly_gray.clip(0, 255).astype(np.uint8)
    assert tasks.Pipeline(order="auto").plan(nearly_gray) == ["unchanged"]
    assert tasks.Pipeline(order="auto", gray_tolerance=5 / 255).plan(nearly_gray) == ["colorize"]


def test_explicit_orders_run_both_steps_in_order():
    gray = np.repeat(smooth_rgb()[..., :1], 3, 2)
    spy = SpyEngine()
    out = tasks.Pipeline("deblur-first", passes=2, deblur_model=DARKEN, colorize_model=COLOR, engine=spy)(
        gray
    )
    assert [c[0] for c in spy.calls] == ["deblur", "colorize"]
    assert spy.calls[0][1] == 1  # a gray RGB image is deblurred as gray
    assert out.shape == gray.shape
    spy = SpyEngine()
    tasks.Pipeline("colorize-first", deblur_model=DARKEN, colorize_model=COLOR, engine=spy)(gray)
    assert [c[0] for c in spy.calls] == ["colorize", "deblur"] and spy.calls[1][1] == 3


def test_pipeline_passes_match_repeated_deblur(engine):
    image = blurry_rgb()
    pipe = tasks.Pipeline("auto", passes=2, deblur_model=DARKEN, colorize_model=COLOR, engine=engine)
    out = pipe(image)
    np.testing.assert_allclose(out, image * 0.64, atol=1e-5)


def test_auto_with_nothing_to_do_loads_no_model(no_shipped_weights):
    tasks.clear_model_cache()
    image = sharp_rgb()
    out = tasks.Pipeline(order="auto", engine=Engine("cpu"))(image)
    np.testing.assert_array_equal(out, image)


def test_pipeline_uses_gray_model_for_gray_images():
    halve = FakeLoaded(Darken(), in_channels=1, name="gray")
    spy = SpyEngine()
    used: list[str] = []
    original = spy.run_deblur

    def record(loaded, pixels, **kwargs):
        used.append(loaded.name)
        return original(loaded, pixels, **kwargs)

    spy.run_deblur = record
    pipe = tasks.Pipeline("auto", colorize_model=COLOR, gray_deblur_model=halve, engine=spy)
    pipe(blurry_rgb()[..., 0])
    assert used == ["gray"]


def test_pipeline_tile_is_passed_to_engine(engine):
    torch.manual_seed(0)
    module = create_model("nafnet", width=4, enc_blocks=[1], middle_blocks=1, dec_blocks=[1]).eval()
    loaded = FakeLoaded(module, size_multiple=2)
    pipe = tasks.Pipeline("deblur-first", deblur_model=loaded, colorize_model=COLOR, engine=engine, tile=16)
    assert pipe.tile == 16
    assert pipe(smooth_rgb()).shape == (24, 32, 3)


def test_bad_arguments():
    with pytest.raises(UsageError):
        tasks.Pipeline(order="sideways")
    with pytest.raises(UsageError):
        tasks.Pipeline(passes=0)
    with pytest.raises(UsageError):
        tasks.deblur("not an image", model=DARKEN)
    with pytest.raises(UsageError):
        tasks.deblur(sharp_rgb(), model=3.5, engine=Engine("cpu"))


def test_inspect_image_is_json_ready():
    info = tasks.inspect_image(np.repeat(blurry_rgb()[..., :1], 3, 2))
    json.dumps(info)
    assert info["size"] == [128, 96] and info["gray"] is True and info["blurry"] is True
    assert info["auto"] == ["deblur", "colorize"] and info["bit_depth"] == 8 and info["channels"] == 3
    sharp = tasks.inspect_image(PILImage.fromarray(sharp_scene()))
    assert sharp["gray"] is False and sharp["auto"] == ["unchanged"] and sharp["mode"] == "RGB"
    assert sharp["blur_score"] < 0.5 < info["blur_score"] and sharp["blurry"] is False


def test_public_api_reexports():
    import restore_cli

    assert restore_cli.deblur is tasks.deblur and restore_cli.Pipeline is tasks.Pipeline
    assert restore_cli.inspect_image is tasks.inspect_image and restore_cli.colorize is tasks.colorize


def test_cached_load_error_does_not_grow_its_traceback(tmp_path) -> None:
    """A model that failed to load fails each later image alike, without keeping earlier images' frames."""
    import traceback

    from restore_cli.errors import RestoreError
    from restore_cli.restorer import Restorer

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    session = Restorer(only="deblur", deblur_model=str(bad), cache={})
    depths = []
    for _ in range(4):
        with pytest.raises(RestoreError, match="bad.safetensors") as info:
            session(np.zeros((8, 8, 3), np.uint8))
        depths.append(len(traceback.extract_tb(info.value.__traceback__)))
    assert depths[0] == depths[-1]


def test_prepare_loads_a_named_gray_deblur_model(tmp_path, tiny_deblur_weights) -> None:
    """A bad gray model the caller named fails in prepare(), before the first image, as the others do."""
    from restore_cli.errors import RestoreError
    from restore_cli.restorer import Restorer

    bad = tmp_path / "gray.safetensors"
    bad.write_bytes(b"garbage")
    session = Restorer(
        only="deblur", deblur_model=str(tiny_deblur_weights), gray_deblur_model=str(bad), cache={}
    )
    with pytest.raises(RestoreError, match="gray.safetensors"):
        session.prepare()
