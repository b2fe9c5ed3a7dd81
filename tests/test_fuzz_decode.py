"""Property test: mutated image bytes either decode or raise BadImageError, nothing else, and quickly.

Seeds are small real files of every allowed format (and the special paths: 16-bit colour through OpenCV, EXIF,
ICC profiles, palettes with transparency) made here. Mutations are bit flips, byte overwrites, truncations,
insertions, deletions, duplicated spans and shuffled chunks (PNG chunks, or arbitrary segments for other
formats). ``tests/fuzz/fuzz_decode.py`` runs the same mutations for minutes and prints counts.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from restore_cli import io as rio
from restore_cli.errors import BadImageError
from tests import imagefactory as factory

FUZZ_MAX_PIXELS = 1 << 20
"""Lower than the default so a mutated header cannot make a test allocate much memory."""
FUZZ_MAX_SIDE = 4096

Mutation = tuple[str, int, int, int]
"""(kind, a, b, c): integer arguments taken modulo the data length where they are positions."""

MUTATION_KINDS = ("flip", "byte", "truncate", "insert", "delete", "duplicate", "shuffle")


def _pil_bytes(array: np.ndarray, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(array).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def seed_corpus() -> dict[str, bytes]:
    """Small valid files of every allowed format and special decode path, made on the spot."""
    import cv2

    scene = factory.make_scene(12, 16, seed=21)
    rgba = np.concatenate([scene, factory.alpha_ramp(12, 16)[..., None]], axis=-1)
    exif = PILImage.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "FuzzCam"
    palette = PILImage.fromarray(scene).convert("P")
    palette_bytes = io.BytesIO()
    palette.save(palette_bytes, "PNG", transparency=0)
    gif_frames = [PILImage.fromarray(factory.make_scene(8, 8, seed=s)).convert("P") for s in range(2)]
    gif = io.BytesIO()
    gif_frames[0].save(gif, "GIF", save_all=True, append_images=gif_frames[1:])
    rgb16 = factory.gradient16(10, 12, 3)[..., ::-1].copy()
    return {
        "png_rgb": _pil_bytes(scene, "PNG"),
        "png_rgba": _pil_bytes(rgba, "PNG"),
        "png_palette": palette_bytes.getvalue(),
        "png_gray16": _pil_bytes(factory.gradient16(10, 12, 1), "PNG"),
        "png_rgb16": cv2.imencode(".png", rgb16)[1].tobytes(),
        "jpeg_exif_icc": _pil_bytes(
            scene, "JPEG", quality=90, exif=exif.tobytes(), icc_profile=factory.adobe_like_icc()
        ),
        "jpeg_progressive": _pil_bytes(scene, "JPEG", quality=80, progressive=True),
        "tiff_rgb": _pil_bytes(scene, "TIFF", compression="tiff_adobe_deflate"),
        "tiff_rgb16": cv2.imencode(".tiff", rgb16)[1].tobytes(),
        "webp_lossy": _pil_bytes(scene, "WEBP", quality=80),
        "webp_lossless_alpha": _pil_bytes(rgba, "WEBP", lossless=True),
        "gif_animated": gif.getvalue(),
        "bmp": _pil_bytes(scene, "BMP"),
    }


def _png_chunks(data: bytes) -> list[bytes] | None:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    chunks, position = [], 8
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        end = position + 12 + length
        if end > len(data):
            return None
        chunks.append(data[position:end])
        position = end
    return chunks if position == len(data) else None


def apply_mutations(data: bytes, mutations: Sequence[Mutation]) -> bytes:
    """Apply each mutation in turn; positions wrap around the current length so every input is valid."""
    buffer = bytearray(data)
    for kind, a, b, c in mutations:
        size = len(buffer)
        if size == 0:
            break
        if kind == "flip":
            buffer[a % size] ^= 1 << (b % 8)
        elif kind == "byte":
            buffer[a % size] = b % 256
        elif kind == "truncate":
            buffer = buffer[: a % size]
        elif kind == "insert":
            buffer[a % size : a % size] = bytes((b + i * c) % 256 for i in range(c % 64 + 1))
        elif kind == "delete":
            start = a % size
            del buffer[start : start + b % 256 + 1]
        elif kind == "duplicate":
            start = a % size
            span = bytes(buffer[start : start + b % 512 + 1])
            at = c % (size + 1)
            buffer[at:at] = span
        elif kind == "shuffle":
            buffer = bytearray(_shuffled(bytes(buffer), seed=a))
    return bytes(buffer)


def _shuffled(data: bytes, seed: int) -> bytes:
    """Permute PNG chunks after the signature (or, for other formats, a few random segments)."""
    rng = random.Random(seed)
    chunks = _png_chunks(data)
    if chunks and len(chunks) > 1:
        rng.shuffle(chunks)
        return data[:8] + b"".join(chunks)
    cuts = sorted(rng.sample(range(1, len(data)), k=min(4, len(data) - 1))) if len(data) > 1 else []
    pieces = [data[i:j] for i, j in zip([0, *cuts], [*cuts, len(data)])]
    head, rest = pieces[0], pieces[1:]
    rng.shuffle(rest)
    return head + b"".join(rest)  # keep the first segment so the format is usually still recognised


def decode_outcome(path: Path) -> str:
    """``"decoded"`` (after checking the Image is sane) or ``"refused"``; any other exception propagates."""
    try:
        image = rio.read_image(path, max_pixels=FUZZ_MAX_PIXELS, max_side=FUZZ_MAX_SIDE)
    except BadImageError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return "refused"
    assert isinstance(image, rio.Image)
    assert image.pixels.dtype == np.float32 and image.pixels.ndim == 3 and image.pixels.shape[2] in (1, 3)
    assert image.pixels.shape[0] * image.pixels.shape[1] <= FUZZ_MAX_PIXELS
    assert np.isfinite(image.pixels).all() and image.pixels.min() >= 0.0 and image.pixels.max() <= 1.0
    assert image.alpha is None or image.alpha.shape == image.pixels.shape[:2]
    return "decoded"


SEEDS = seed_corpus()

mutation_strategy = st.tuples(
    st.sampled_from(MUTATION_KINDS),
    st.integers(min_value=0, max_value=1 << 20),
    st.integers(min_value=0, max_value=1 << 16),
    st.integers(min_value=0, max_value=1 << 12),
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_unmutated_seeds_decode(fuzz_dir: Path, name: str) -> None:
    path = fuzz_dir / f"seed_{name}.bin"
    path.write_bytes(SEEDS[name])
    if name == "gif_animated":
        assert decode_outcome(path) == "refused"  # animated without a frame
        assert rio.read_image(path, frame=1).pixels.shape == (8, 8, 3)
    else:
        assert decode_outcome(path) == "decoded"


@settings(
    max_examples=100,
    deadline=3000,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(sorted(SEEDS)),
    mutations=st.lists(mutation_strategy, min_size=1, max_size=4),
)
def test_mutated_bytes_decode_or_raise_bad_image_error(fuzz_dir: Path, name: str, mutations: list) -> None:
    path = fuzz_dir / "case.jpg"  # the extension is irrelevant: formats are sniffed by content
    path.write_bytes(apply_mutations(SEEDS[name], mutations))
    assert decode_outcome(path) in ("decoded", "refused")


@settings(max_examples=25, deadline=3000, derandomize=True)
@given(data=st.binary(min_size=1, max_size=512))
def test_random_bytes_are_refused_or_decoded(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.getbasetemp() / "random_case.png"
    path.write_bytes(data)
    assert decode_outcome(path) in ("decoded", "refused")


@pytest.mark.parametrize("name", ["png_rgb", "jpeg_exif_icc", "tiff_rgb16", "webp_lossy"])
def test_every_truncation_point_of_a_seed_is_handled(fuzz_dir: Path, name: str) -> None:
    data = SEEDS[name]
    outcomes = set()
    for cut in range(0, len(data), max(1, len(data) // 40)):
        path = fuzz_dir / f"cut_{name}.bin"
        path.write_bytes(data[:cut])
        outcomes.add(decode_outcome(path))
    assert "refused" in outcomes
