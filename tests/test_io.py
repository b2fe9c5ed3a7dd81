"""The decode/encode boundary: every case of RELIABILITY.md that belongs to reading or writing images."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageOps

from restore_cli import io as rio
from restore_cli.errors import BadImageError, RestoreError
from restore_cli.fsutil import UMASK
from tests import imagefactory as factory

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refused(path: Path, **kwargs: object) -> BadImageError:
    """read_image must raise BadImageError with a one-line message that names the file."""
    with pytest.raises(BadImageError) as caught:
        rio.read_image(path, **kwargs)
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    return caught.value


# ------------------------------------------------------------------------------------------- refused inputs

EXPECTED_REFUSAL = {
    "zero_byte": "empty",
    "random_bytes": "not a recognised image",
    "text_as_jpg": "not a recognised image",
    "eps": "EPS",
    "pdf": "PDF",
    "svg": "SVG",
    "psd": "PSD",
    "truncated_jpeg": "truncated",
    "truncated_png": "truncated",
    "bomb": "decompression bomb",
    "over_side_limit": "--max-side",
    "animated_gif": "--frame",
    "animated_webp": "--frame",
    "multipage_tiff": "--frame",
}


def test_every_bad_input_has_an_expected_message() -> None:
    assert set(EXPECTED_REFUSAL) == set(factory.BAD_INPUT_WRITERS)


@pytest.mark.parametrize("case", sorted(factory.BAD_INPUT_WRITERS))
def test_bad_inputs_are_refused_with_a_clear_message(tmp_path: Path, case: str) -> None:
    path = factory.BAD_INPUT_WRITERS[case](tmp_path)
    before = _sha256(path)
    error = _refused(path)
    assert EXPECTED_REFUSAL[case] in str(error)
    assert isinstance(error, RestoreError) and error.exit_code == 1
    assert _sha256(path) == before  # input never modified


def test_missing_path_is_refused(tmp_path: Path) -> None:
    assert "no such file" in str(_refused(tmp_path / "nope.jpg"))


def test_folder_is_refused(tmp_path: Path) -> None:
    assert "folder" in str(_refused(tmp_path))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert "regular file" in str(_refused(fifo))


@pytest.mark.skipif(IS_ROOT, reason="root reads any file")
def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = factory.write_scene(tmp_path)
    path.chmod(0)
    try:
        assert "permission" in str(_refused(path))
    finally:
        path.chmod(0o644)


def test_bomb_between_pillow_warning_and_error_is_an_error(tmp_path: Path) -> None:
    # 10000 x 10000 = 1e8 pixels: over Pillow's limit (a warning in Pillow), under twice it (Pillow's error).
    path = factory.write_bomb(tmp_path, 10000, 10000)
    assert "decompression bomb" in str(_refused(path))


def test_limits_can_be_lowered(tmp_path: Path) -> None:
    path = factory.write_scene(tmp_path, h=24, w=32)
    assert "768 pixels" in str(_refused(path, max_pixels=700))
    assert "over the limit of 31" in str(_refused(path, max_side=31))
    assert rio.read_image(path, max_pixels=768, max_side=32).pixels.shape == (24, 32, 3)


def test_side_limit_can_be_raised(tmp_path: Path) -> None:
    path = factory.write_over_side_limit(tmp_path, side=40000)
    assert rio.read_image(path, max_side=40000).pixels.shape == (1, 40000, 1)


def test_raising_max_pixels_raises_pillows_guard_only_for_that_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shrink Pillow's limit so a small image plays the part of a huge one: 60x60 = 3600 > 2 x 1000.
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)
    monkeypatch.setattr(rio, "DEFAULT_MAX_PIXELS", 1000)
    path = factory.write_scene(tmp_path, h=60, w=60)
    assert "decompression bomb" in str(_refused(path, max_pixels=1000))
    assert rio.read_image(path, max_pixels=5000).pixels.shape == (60, 60, 3)
    assert PILImage.MAX_IMAGE_PIXELS == 1000  # restored: the guard is never left raised or off


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9, 0.98])
def test_truncation_anywhere_is_refused(tmp_path: Path, keep: float) -> None:
    for writer in (factory.write_truncated_jpeg, factory.write_truncated_png):
        path = writer(tmp_path, keep=keep)
        _refused(path)


def test_truncated_16bit_png_is_refused(tmp_path: Path) -> None:
    path = factory.write_rgb16_png(tmp_path, h=40, w=40)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 3 // 4])
    _refused(path)


# ------------------------------------------------------------------------------------------- frames


@pytest.mark.parametrize(
    ("writer", "frames"),
    [(factory.write_animated_gif, 3), (factory.write_animated_webp, 3), (factory.write_multipage_tiff, 2)],
)
def test_a_chosen_frame_is_decoded_and_out_of_range_is_an_error(tmp_path: Path, writer, frames: int) -> None:
    path = writer(tmp_path)
    for index in range(frames):
        assert rio.read_image(path, frame=index).pixels.shape == (12, 16, 3)
    first, last = rio.read_image(path, frame=0), rio.read_image(path, frame=frames - 1)
    assert not np.allclose(first.pixels, last.pixels)  # really another frame
    assert f"no frame {frames}" in str(_refused(path, frame=frames))
    _refused(path, frame=-1)


def test_frame_zero_of_a_still_image_is_fine_and_frame_one_is_not(tmp_path: Path) -> None:
    path = factory.write_scene(tmp_path)
    assert rio.read_image(path, frame=0).pixels.shape == (24, 32, 3)
    assert "no frame 1" in str(_refused(path, frame=1))


# ------------------------------------------------------------------------------------------- decoded inputs


def test_every_good_input_decodes_to_valid_pixels(tmp_path: Path) -> None:
    paths = factory.write_good_inputs(tmp_path)
    checksums = {name: _sha256(path) for name, path in paths.items()}
    for name, path in paths.items():
        image = rio.read_image(path)
        assert image.pixels.dtype == np.float32, name
        assert image.pixels.ndim == 3 and image.pixels.shape[2] in (1, 3), name
        assert np.isfinite(image.pixels).all() and image.pixels.min() >= 0 and image.pixels.max() <= 1, name
        assert image.alpha is None or image.alpha.shape == image.pixels.shape[:2], name
        assert image.bit_depth in (8, 16), name
        assert image.path == path, name
    assert checksums == {name: _sha256(path) for name, path in paths.items()}  # inputs never modified


def test_png_bytes_named_jpg_decode_by_content(tmp_path: Path) -> None:
    image = rio.read_image(factory.write_png_named_jpg(tmp_path))
    assert image.format == "PNG"
    assert image.pixels.shape == (10, 14, 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    path = factory.write_exif_rotated_jpeg(tmp_path, orientation=orientation, h=24, w=40)
    image = rio.read_image(path)
    with PILImage.open(path) as pil:
        expected = np.asarray(ImageOps.exif_transpose(pil).convert("RGB"), dtype=np.float32) / 255
    assert image.pixels.shape == expected.shape
    np.testing.assert_array_equal(image.pixels, expected)
    exif = PILImage.Exif()
    exif.load(image.exif)
    assert exif.get(0x0112) == 1 and exif.get(0x010F) == "RestoreTestCam"


def test_orientation_6_puts_the_stored_top_left_at_the_top_right(tmp_path: Path) -> None:
    image = rio.read_image(factory.write_exif_rotated_jpeg(tmp_path, orientation=6, h=24, w=40))
    assert image.pixels.shape[:2] == (40, 24)  # upright: the stored width becomes the height
    top_right, top_left = image.pixels[2, -3], image.pixels[2, 2]
    assert top_right[0] > 0.8 and top_right[1] < 0.2  # the red marker
    assert not (top_left[0] > 0.8 and top_left[1] < 0.2)


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    path = factory.write_cmyk_jpeg(tmp_path)
    image = rio.read_image(path)
    assert image.mode == "CMYK" and image.pixels.shape == (16, 20, 3)
    with PILImage.open(path) as pil:
        expected = np.asarray(pil.convert("RGB"), dtype=np.float32) / 255
    np.testing.assert_allclose(image.pixels, expected, atol=1 / 255)


def test_non_srgb_icc_profile_is_converted_to_srgb(tmp_path: Path) -> None:
    # The test profile swaps red and blue: red in the file is blue once colour-managed.
    image = rio.read_image(factory.write_icc_jpeg(tmp_path, factory.swapped_rgb_icc(), colour=(255, 0, 0)))
    mean = image.pixels.reshape(-1, 3).mean(axis=0)
    assert mean[2] > 0.8 and mean[0] < 0.2, mean
    assert image.source_profile == "restore test swapped RGB"


def test_adobe_like_profile_changes_colours_and_srgb_profile_does_not(tmp_path: Path) -> None:
    colour = (90, 160, 60)
    adobe = rio.read_image(factory.write_icc_jpeg(tmp_path / "a", factory.adobe_like_icc(), colour=colour))
    from PIL import ImageCms

    srgb_bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    srgb = rio.read_image(factory.write_icc_jpeg(tmp_path / "s", srgb_bytes, colour=colour))
    assert srgb.source_profile is None
    assert adobe.source_profile == "restore test Adobe-like RGB"
    assert np.abs(adobe.pixels - srgb.pixels).max() > 4 / 255
    # Adobe RGB green is more saturated than sRGB green: the converted green channel leads by more.
    a, s = adobe.pixels.reshape(-1, 3).mean(0), srgb.pixels.reshape(-1, 3).mean(0)
    assert a[1] - a[0] > s[1] - s[0]


def test_16bit_gray_png_keeps_every_value(tmp_path: Path) -> None:
    image = rio.read_image(factory.write_gray16_png(tmp_path, h=9, w=11))
    assert image.bit_depth == 16 and image.pixels.shape == (9, 11, 1)
    np.testing.assert_array_equal(
        rio.to_array(image, like=np.zeros((1, 1), np.uint16)), factory.gradient16(9, 11, 1)
    )


def test_16bit_rgb_png_keeps_every_value_in_rgb_order(tmp_path: Path) -> None:
    image = rio.read_image(factory.write_rgb16_png(tmp_path, h=9, w=11))
    assert image.bit_depth == 16 and image.mode == "RGB" and image.alpha is None
    np.testing.assert_array_equal(
        rio.to_array(image, like=np.zeros(1, np.uint16)), factory.gradient16(9, 11, 3)
    )


def test_16bit_rgba_png_keeps_alpha(tmp_path: Path) -> None:
    image = rio.read_image(factory.write_rgba16_png(tmp_path, h=9, w=11))
    assert image.bit_depth == 16 and image.alpha is not None
    np.testing.assert_array_equal(
        rio.to_array(image, like=np.zeros(1, np.uint16)), factory.gradient16(9, 11, 4)
    )


def test_palette_png_transparency_becomes_alpha(tmp_path: Path) -> None:
    image = rio.read_image(factory.write_palette_png_transparent(tmp_path))
    assert image.mode == "P" and image.pixels.shape == (8, 10, 3)
    assert image.alpha is not None
    np.testing.assert_array_equal(image.alpha[:, :5], 0.0)
    np.testing.assert_array_equal(image.alpha[:, 5:], 1.0)
    np.testing.assert_allclose(image.pixels[0, 7], np.array([200, 30, 30]) / 255, atol=1e-6)


def test_la_and_rgba_keep_alpha(tmp_path: Path) -> None:
    ramp = factory.alpha_ramp(8, 12).astype(np.float32) / 255
    la = rio.read_image(factory.write_la_png(tmp_path))
    assert la.pixels.shape == (8, 12, 1) and la.mode == "LA"
    np.testing.assert_array_equal(la.alpha, ramp)
    rgba = rio.read_image(factory.write_rgba_png(tmp_path))
    assert rgba.pixels.shape == (8, 12, 3) and rgba.mode == "RGBA"
    np.testing.assert_array_equal(rgba.alpha, ramp)


def test_tiny_and_odd_sizes_and_non_ascii_names(tmp_path: Path) -> None:
    assert rio.read_image(factory.write_one_pixel(tmp_path)).pixels.shape == (1, 1, 3)
    assert rio.read_image(factory.write_odd_size(tmp_path)).pixels.shape == (7, 13, 3)
    unicode_path = factory.write_non_ascii_name(tmp_path)
    image = rio.read_image(unicode_path)
    assert image.pixels.shape == (10, 12, 3)
    out = rio.write_image(image, tmp_path / "выход 出力.png")
    assert rio.read_image(out).pixels.shape == (10, 12, 3)


def test_other_pillow_modes(tmp_path: Path) -> None:
    bilevel = PILImage.fromarray(np.eye(6, dtype=bool))
    bilevel.save(tmp_path / "bilevel.png")
    image = rio.read_image(tmp_path / "bilevel.png")
    assert image.pixels.shape == (6, 6, 1) and image.pixels[0, 0, 0] == 1.0 and image.pixels[0, 1, 0] == 0.0
    floats = PILImage.fromarray(np.array([[0.0, 0.5, 2.0]], dtype=np.float32))  # mode F, clipped to [0, 1]
    floats.save(tmp_path / "float.tif")
    image = rio.read_image(tmp_path / "float.tif")
    np.testing.assert_allclose(image.pixels[0, :, 0], [0.0, 0.5, 1.0])
    assert image.bit_depth == 16


# ------------------------------------------------------------------------------------------- writing


@pytest.mark.parametrize(
    ("extension", "tolerance"), [("png", 0), ("tif", 0), ("jpg", 3), ("webp", 6), ("jpeg", 3)]
)
def test_8bit_round_trip(tmp_path: Path, extension: str, tolerance: float) -> None:
    scene = factory.make_scene(20, 28, seed=1)
    out = rio.write_image(rio.from_array(scene), tmp_path / f"out.{extension}")
    back = rio.read_image(out)
    assert back.bit_depth == 8 and back.pixels.shape == (20, 28, 3)
    diff = np.abs(rio.to_array(back, like=scene).astype(int) - scene.astype(int))
    assert diff.mean() <= tolerance  # lossless formats exact, lossy ones close on average


@pytest.mark.parametrize("extension", ["png", "tiff"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_round_trip_is_exact(tmp_path: Path, extension: str, channels: int) -> None:
    values = factory.gradient16(7, 9, channels)
    out = rio.write_image(rio.from_array(values), tmp_path / f"out.{extension}")
    back = rio.read_image(out)
    assert back.bit_depth == 16
    np.testing.assert_array_equal(rio.to_array(back, like=values), values)


def test_16bit_gray_with_alpha_survives_as_16bit(tmp_path: Path) -> None:
    gray = factory.gradient16(5, 6, 1)
    alpha = factory.gradient16(5, 6, 1)[::-1].copy()
    out = rio.write_image(rio.from_array(np.stack([gray, alpha], -1)), tmp_path / "la16.png")
    back = rio.read_image(out)
    assert back.bit_depth == 16 and back.alpha is not None
    np.testing.assert_array_equal(np.rint(back.alpha * 65535).astype(np.uint16), alpha)
    np.testing.assert_array_equal(np.rint(back.pixels[..., 0] * 65535).astype(np.uint16), gray)


def test_16bit_image_written_as_jpeg_is_8bit(tmp_path: Path) -> None:
    out = rio.write_image(rio.from_array(factory.gradient16(6, 6, 3)), tmp_path / "out.jpg")
    assert rio.read_image(out).bit_depth == 8


def test_alpha_is_reattached(tmp_path: Path) -> None:
    rgba = rio.read_image(factory.write_rgba_png(tmp_path / "in"))
    for extension in ("png", "webp", "tif"):
        back = rio.read_image(rio.write_image(rgba, tmp_path / f"out.{extension}"))
        assert back.alpha is not None, extension
        np.testing.assert_allclose(back.alpha, rgba.alpha, atol=1 / 255 if extension != "webp" else 0.05)


def test_jpeg_refuses_transparency_but_drops_an_opaque_alpha(tmp_path: Path) -> None:
    rgba = rio.read_image(factory.write_rgba_png(tmp_path / "in"))
    with pytest.raises(BadImageError, match=r"\.png"):
        rio.write_image(rgba, tmp_path / "out.jpg")
    assert not (tmp_path / "out.jpg").exists()
    opaque = rio.Image(pixels=rgba.pixels, alpha=np.ones_like(rgba.alpha))
    assert rio.read_image(rio.write_image(opaque, tmp_path / "out.jpg")).alpha is None


@pytest.mark.parametrize("extension", ["jpg", "png", "webp", "tif"])
def test_exif_is_carried_with_orientation_reset(tmp_path: Path, extension: str) -> None:
    upright = rio.read_image(factory.write_exif_rotated_jpeg(tmp_path / "in", orientation=6))
    back = rio.read_image(rio.write_image(upright, tmp_path / f"out.{extension}"))
    assert back.pixels.shape == upright.pixels.shape  # not rotated a second time
    exif = PILImage.open(tmp_path / f"out.{extension}").getexif()
    assert exif.get(0x010F) == "RestoreTestCam"
    assert exif.get(0x0112) in (None, 1)


def test_exif_is_carried_by_16bit_png_and_stripped_on_request(tmp_path: Path) -> None:
    exif = PILImage.Exif()
    exif[0x010F] = "RestoreTestCam"
    image = rio.from_array(factory.gradient16(5, 7, 3))
    image.exif = exif.tobytes()
    kept = rio.write_image(image, tmp_path / "kept.png")
    assert PILImage.open(kept).getexif().get(0x010F) == "RestoreTestCam"
    np.testing.assert_array_equal(
        rio.to_array(rio.read_image(kept), like=np.zeros(1, np.uint16)), factory.gradient16(5, 7, 3)
    )
    stripped = rio.write_image(image, tmp_path / "stripped.png", keep_metadata=False)
    assert PILImage.open(stripped).getexif().get(0x010F) is None


@pytest.mark.parametrize("name", ["out.bmp", "out.gif", "out.txt", "out"])
def test_unknown_output_extension_lists_the_allowed_ones(tmp_path: Path, name: str) -> None:
    with pytest.raises(BadImageError) as caught:
        rio.write_image(rio.from_array(factory.make_scene(4, 4)), tmp_path / name)
    assert ".png" in str(caught.value) and ".jpg" in str(caught.value) and ".tiff" in str(caught.value)
    assert not (tmp_path / name).exists()


def test_existing_output_is_refused_unless_overwrite(tmp_path: Path) -> None:
    destination = tmp_path / "out.png"
    destination.write_bytes(b"precious")
    image = rio.from_array(factory.make_scene(6, 6))
    with pytest.raises(BadImageError, match="--overwrite"):
        rio.write_image(image, destination)
    assert destination.read_bytes() == b"precious"
    rio.write_image(image, destination, overwrite=True)
    assert rio.read_image(destination).pixels.shape == (6, 6, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_the_input_itself_is_never_overwritten(tmp_path: Path) -> None:
    source = factory.write_scene(tmp_path, "photo.png")
    before = _sha256(source)
    image = rio.read_image(source)
    with pytest.raises(BadImageError, match="input"):
        rio.write_image(image, source, overwrite=True)
    with pytest.raises(BadImageError, match="input"):
        rio.write_image(image, tmp_path / "." / "photo.png", overwrite=True)
    assert _sha256(source) == before


def test_a_folder_as_destination_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out.png").mkdir()
    with pytest.raises(BadImageError, match="folder"):
        rio.write_image(rio.from_array(factory.make_scene(4, 4)), tmp_path / "out.png", overwrite=True)


def test_missing_output_folders_are_created(tmp_path: Path) -> None:
    out = rio.write_image(rio.from_array(factory.make_scene(4, 4)), tmp_path / "a" / "b" / "out.png")
    assert out.is_file()


def test_output_gets_normal_permissions(tmp_path: Path) -> None:
    out = rio.write_image(rio.from_array(factory.make_scene(4, 4)), tmp_path / "out.png")
    assert out.stat().st_mode & 0o777 == 0o666 & ~UMASK


def test_unwritable_destination_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_bytes(b"x")
    with pytest.raises(BadImageError) as caught:
        rio.write_image(rio.from_array(factory.make_scene(4, 4)), blocker / "out.png")
    assert "choose another" in str(caught.value)


@pytest.mark.skipif(IS_ROOT, reason="root can write anywhere")
def test_read_only_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(BadImageError, match="choose another output folder"):
            rio.write_image(rio.from_array(factory.make_scene(4, 4)), folder / "out.png")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_encoder_failure_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    destination = tmp_path / "out.png"
    destination.write_bytes(b"precious")
    original_save = PILImage.Image.save

    def failing_save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half an image")
        raise OSError("encoder exploded")

    monkeypatch.setattr(PILImage.Image, "save", failing_save)
    with pytest.raises(BadImageError, match="encoder exploded"):
        rio.write_image(rio.from_array(factory.make_scene(4, 4)), destination, overwrite=True)
    monkeypatch.setattr(PILImage.Image, "save", original_save)
    assert destination.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failure_during_the_file_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    destination = tmp_path / "out.png"
    destination.write_bytes(b"precious")
    written: list[int] = []

    def failing_fsync(descriptor: int) -> None:
        written.append(os.fstat(descriptor).st_size)  # the temporary file really holds the encoded bytes
        raise failure

    monkeypatch.setattr(rio.os, "fsync", failing_fsync)
    expected = BadImageError if isinstance(failure, Exception) else KeyboardInterrupt
    with pytest.raises(expected):
        rio.write_image(rio.from_array(factory.make_scene(8, 8)), destination, overwrite=True)
    assert written and written[0] > 0
    assert destination.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_quality_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadImageError, match="quality"):
        rio.write_image(rio.from_array(factory.make_scene(4, 4)), tmp_path / "out.jpg", quality=0)


def test_quality_changes_jpeg_size(tmp_path: Path) -> None:
    image = rio.from_array(factory.make_scene(48, 48))
    small = rio.write_image(image, tmp_path / "q30.jpg", quality=30).stat().st_size
    large = rio.write_image(image, tmp_path / "q95.jpg", quality=95).stat().st_size
    assert small < large


# ------------------------------------------------------------------------------------------- helpers


def test_from_array_and_to_array() -> None:
    scene = factory.make_scene(5, 6)
    image = rio.from_array(scene)
    assert image.pixels.dtype == np.float32 and image.bit_depth == 8 and image.alpha is None
    np.testing.assert_array_equal(rio.to_array(image, like=scene), scene)
    gray = scene[..., 0]
    assert rio.to_array(rio.from_array(gray), like=gray).shape == (5, 6)
    rgba = np.concatenate([scene, factory.alpha_ramp(5, 6)[..., None]], axis=-1)
    image = rio.from_array(rgba)
    assert image.pixels.shape == (5, 6, 3) and image.alpha is not None
    np.testing.assert_array_equal(rio.to_array(image, like=rgba), rgba)
    floats = rio.from_array(np.full((2, 3, 3), 1.5, dtype=np.float64))
    assert floats.pixels.max() == 1.0 and rio.to_array(floats).dtype == np.float32
    assert rio.from_array(factory.gradient16(3, 3, 3)).bit_depth == 16
    with pytest.raises(BadImageError):
        rio.from_array(np.zeros((2, 3, 5), dtype=np.uint8))
    with pytest.raises(BadImageError):
        rio.from_array(np.zeros((2, 3), dtype=np.int64))


def test_from_pil_and_to_pil() -> None:
    rgba = np.concatenate([factory.make_scene(5, 6), factory.alpha_ramp(5, 6)[..., None]], axis=-1)
    image = rio.from_pil(PILImage.fromarray(rgba))
    assert image.pixels.shape == (5, 6, 3) and image.alpha is not None and image.format is None
    pil = rio.to_pil(image)
    assert pil.mode == "RGBA" and pil.size == (6, 5)
    np.testing.assert_array_equal(np.asarray(pil), rgba)
    gray = rio.to_pil(rio.from_pil(PILImage.fromarray(rgba[..., 0])))
    assert gray.mode == "L"
    palette = PILImage.fromarray(factory.make_scene(5, 6)).convert("P")
    assert rio.from_pil(palette).pixels.shape == (5, 6, 3)


def test_is_gray() -> None:
    scene = factory.make_scene(8, 8).astype(np.float32) / 255
    assert rio.is_gray(scene[..., :1])
    assert rio.is_gray(scene[..., 0])
    gray3 = np.repeat(scene[..., :1], 3, axis=2)
    assert rio.is_gray(gray3)
    nudged = gray3.copy()
    nudged[0, 0, 0] += 1 / 255
    assert rio.is_gray(nudged)
    nudged[0, 0, 0] += 5 / 255
    assert not rio.is_gray(nudged)
    assert not rio.is_gray(scene)
    assert rio.is_gray(np.repeat(factory.make_scene(4, 4)[..., :1], 3, axis=2))  # uint8 arrays too
    assert not rio.is_gray(factory.make_scene(4, 4))


def test_is_gray_finds_one_coloured_pixel_outside_the_sampled_rows() -> None:
    gray = np.repeat(factory.make_scene(200, 50, seed=3)[..., :1], 3, axis=2)
    assert rio.is_gray(gray)
    for row in (0, 1, 7, 199):  # rows 0 and 6 are sampled (every 6th of 200), 1, 7 and 199 are not
        tinted = gray.copy()
        tinted[row, 17, 2] = 255 - tinted[row, 17, 2] // 2
        assert not rio.is_gray(tinted), row
        assert not rio.is_gray(tinted.astype(np.float32) / 255), row


def test_a_colour_photo_is_found_without_importing_opencv() -> None:
    code = (
        "import sys, numpy as np; from restore_cli import io\n"
        "rng = np.random.default_rng(0)\n"
        "print(io.is_gray(rng.random((720, 1280, 3), dtype=np.float32)), 'cv2' in sys.modules)\n"
    )
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_8bit_png_is_lossless_for_gray_rgb_and_alpha(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    for channels in (1, 2, 3, 4):  # L, LA, RGB, RGBA; noise: every byte value, nothing to compress away
        values = rng.integers(0, 256, size=(37, 53, channels), dtype=np.uint8)
        out = rio.write_image(rio.from_array(values), tmp_path / f"noise{channels}.png")
        with PILImage.open(out) as written:
            assert written.format == "PNG" and written.mode == ("L", "LA", "RGB", "RGBA")[channels - 1]
            np.testing.assert_array_equal(np.asarray(written).reshape(values.shape), values)


def test_supported_output_formats() -> None:
    assert set(rio.SUPPORTED_OUTPUT_FORMATS) == {"png", "jpg", "jpeg", "webp", "tif", "tiff"}


def test_rgba_png_with_a_non_srgb_profile_is_converted_and_keeps_alpha(tmp_path: Path) -> None:
    rgba = np.zeros((6, 8, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = factory.alpha_ramp(6, 8)
    PILImage.fromarray(rgba).save(tmp_path / "tagged.png", icc_profile=factory.swapped_rgb_icc())
    image = rio.read_image(tmp_path / "tagged.png")
    assert image.source_profile == "restore test swapped RGB"
    assert image.pixels[..., 2].min() > 0.8 and image.pixels[..., 0].max() < 0.2
    np.testing.assert_array_equal(image.alpha, factory.alpha_ramp(6, 8) / np.float32(255))


def test_metadata_can_be_stripped_from_8bit_outputs(tmp_path: Path) -> None:
    upright = rio.read_image(factory.write_exif_rotated_jpeg(tmp_path / "in", orientation=6))
    assert upright.exif is not None
    for extension in ("jpg", "png", "webp"):
        out = rio.write_image(upright, tmp_path / f"bare.{extension}", keep_metadata=False)
        assert PILImage.open(out).getexif().get(0x010F) is None, extension
        assert rio.read_image(out).exif is None, extension


def test_a_broken_exif_block_is_dropped_not_fatal(tmp_path: Path) -> None:
    path = factory.write_scene(tmp_path, "scene.jpg")
    data = path.read_bytes()
    app1 = b"\xff\xe1" + (2 + 6 + 8).to_bytes(2, "big") + b"Exif\x00\x00" + b"II*\x00\xff\xff\xff\x7f"
    path.write_bytes(data[:2] + app1 + data[2:])  # an IFD offset far past the end of the block
    image = rio.read_image(path)
    assert image.pixels.shape == (24, 32, 3)


def test_rgb8_helpers_round_trip_gray_alpha_and_refuse_garbage(tmp_path: Path) -> None:
    """read_rgb8/write_rgb8 (training data, bench): exact uint8 round trip, gray repeated, alpha dropped."""
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)
    out = rio.write_rgb8(rgb, tmp_path / "a.png")
    assert np.array_equal(rio.read_rgb8(out), rgb)
    rio.write_rgb8(rgb[::-1].copy(), out)  # overwrites by default: regenerated files
    assert np.array_equal(rio.read_rgb8(out), rgb[::-1])
    gray = rgb[..., 0]
    rio.write_rgb8(gray, tmp_path / "g.png")
    back = rio.read_rgb8(tmp_path / "g.png")
    assert back.shape == (9, 13, 3) and back.dtype == np.uint8
    assert all(np.array_equal(back[..., c], gray) for c in range(3))
    rgba = np.concatenate([rgb, np.full((9, 13, 1), 7, np.uint8)], axis=2)
    PILImage.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    assert np.array_equal(rio.read_rgb8(tmp_path / "t.png"), rgb)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(BadImageError):
        rio.read_rgb8(tmp_path / "bad.png")
