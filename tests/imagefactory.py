"""Makers of every bad or special image file of RELIABILITY.md, written at test time into a folder.

Each ``write_*`` function writes one file into ``folder`` and returns its path; :func:`write_bad_inputs` and
:func:`write_good_inputs` write the whole set (name -> path) for tests that want to iterate over cases, e.g.
a CLI batch with one bad file among good ones. :func:`make_scene` draws a small synthetic photo-like scene
(gradients, edges, text, texture) so no test needs a real photo. Nothing here is downloaded or committed as
a binary; everything is made from code.

Importable as ``tests.imagefactory`` (``tests/`` is a package) or as ``imagefactory`` with ``tests/`` on
``sys.path``.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

# ------------------------------------------------------------------------------------------------ scenes


def make_scene(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A photo-like ``h x w x 3`` uint8 RGB scene: smooth gradients, hard edges, text and fine texture."""
    import cv2

    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    fy, fx = ys / max(h - 1, 1), xs / max(w - 1, 1)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    scene = np.stack(
        [
            0.55 + 0.35 * np.sin(2.0 * np.pi * fx + phase[0]) * (1 - fy),
            0.25 + 0.6 * fy,
            0.65 - 0.45 * fx * fy + 0.1 * np.cos(3.0 * np.pi * fy + phase[2]),
        ],
        axis=-1,
    )
    image = np.clip(scene * 255.0, 0, 255).astype(np.uint8)
    for _ in range(max(1, (h * w) // 2500 + 2)):  # rectangles and discs: hard edges of many orientations
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            x1, y1 = x0 + int(rng.integers(2, max(3, w // 3))), y0 + int(rng.integers(2, max(3, h // 3)))
            cv2.rectangle(image, (x0, y0), (x1, y1), colour, thickness=-1)
        else:
            cv2.circle(image, (x0, y0), int(rng.integers(2, max(3, min(h, w) // 4))), colour, thickness=-1)
    if h >= 16 and w >= 24:
        scale = max(0.3, min(h, w) / 120.0)
        cv2.putText(image, "Restore 42", (2, h // 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (10, 10, 10), 1)
    texture = rng.normal(0.0, 6.0, size=(h, w, 1)).astype(np.float32)  # grain, like film or sensor noise
    return np.clip(image.astype(np.float32) + texture, 0, 255).astype(np.uint8)


def gradient16(h: int, w: int, channels: int = 3) -> np.ndarray:
    """A uint16 ``h x w [x channels]`` ramp over the full 16-bit range (values 8 bits cannot hold)."""
    base = (np.arange(h * w, dtype=np.float64).reshape(h, w) * 40503.0 + 7.0) % 65536.0
    if channels == 1:
        return base.astype(np.uint16)
    planes = [(base + 9973.0 * c) % 65536.0 for c in range(channels)]
    return np.stack(planes, axis=-1).astype(np.uint16)


def _encoded(array: np.ndarray, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _write(folder: Path, name: str, data: bytes) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def write_scene(folder: Path, name: str = "scene.png", h: int = 24, w: int = 32, seed: int = 0) -> Path:
    """A scene saved in the format its extension names (PNG, JPEG, WebP, TIFF, BMP, GIF)."""
    fmt = {"jpg": "JPEG", "jpeg": "JPEG", "tif": "TIFF", "tiff": "TIFF"}.get(
        name.rsplit(".", 1)[-1].lower(), name.rsplit(".", 1)[-1].upper()
    )
    options: dict[str, object] = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    return _write(folder, name, _encoded(make_scene(h, w, seed), fmt, **options))


# --------------------------------------------------------------------------------------------- bad inputs


def write_zero_byte(folder: Path) -> Path:
    return _write(folder, "empty.jpg", b"")


def write_random_bytes(folder: Path) -> Path:
    return _write(
        folder, "random.jpg", np.random.default_rng(7).integers(0, 256, 2048, dtype=np.uint8).tobytes()
    )


def write_text_as_jpg(folder: Path) -> Path:
    return _write(folder, "notes.jpg", b"This is a shopping list, not a photo.\nmilk\neggs\n")


def write_eps(folder: Path) -> Path:
    """A real EPS file written by Pillow (PostScript: must never be handed to Ghostscript)."""
    return _write(folder, "drawing.eps", _encoded(make_scene(8, 8), "EPS"))


def write_pdf(folder: Path) -> Path:
    return _write(folder, "scan.pdf", _encoded(make_scene(8, 8), "PDF"))


def write_svg(folder: Path) -> Path:
    svg = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        '<rect width="10" height="10" fill="red"/></svg>\n'
    )
    return _write(folder, "logo.svg", svg.encode())


def write_psd(folder: Path, h: int = 4, w: int = 4) -> Path:
    """A minimal Photoshop file: header, empty colour-mode/resources/layers sections, raw RGB data."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, h, w, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)
    data = struct.pack(">H", 0) + bytes(3 * h * w)
    return _write(folder, "layers.psd", header + sections + data)


def write_truncated_jpeg(folder: Path, keep: float = 0.6) -> Path:
    data = _encoded(make_scene(64, 64, seed=3), "JPEG", quality=95)
    return _write(folder, "truncated.jpg", data[: int(len(data) * keep)])


def write_truncated_png(folder: Path, keep: float = 0.6) -> Path:
    data = _encoded(make_scene(64, 64, seed=4), "PNG", compress_level=0)
    return _write(folder, "truncated.png", data[: int(len(data) * keep)])


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def png_header_only(width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    """A tiny PNG that declares ``width x height`` but carries almost no pixel data (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def write_bomb(folder: Path, width: int = 30000, height: int = 30000, name: str = "bomb.png") -> Path:
    """A ~100-byte PNG declaring a huge image (default 900 Mpx, far over Pillow's limit)."""
    return _write(folder, name, png_header_only(width, height))


def write_over_side_limit(folder: Path, side: int = 40000) -> Path:
    """A real, valid, 1-pixel-tall image whose width exceeds the default side limit (few pixels in total)."""
    row = np.zeros((1, side), dtype=np.uint8)
    return _write(folder, "wide.png", _encoded(row, "PNG"))


def write_animated_gif(folder: Path, frames: int = 3) -> Path:
    images = [Image.fromarray(make_scene(12, 16, seed=s)).convert("P") for s in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return _write(folder, "animated.gif", buffer.getvalue())


def write_animated_webp(folder: Path, frames: int = 3) -> Path:
    images = [Image.fromarray(make_scene(12, 16, seed=s)) for s in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "WEBP", save_all=True, append_images=images[1:], duration=100, lossless=True)
    return _write(folder, "animated.webp", buffer.getvalue())


def write_multipage_tiff(folder: Path, pages: int = 2) -> Path:
    images = [Image.fromarray(make_scene(12, 16, seed=s)) for s in range(pages)]
    buffer = io.BytesIO()
    images[0].save(buffer, "TIFF", save_all=True, append_images=images[1:])
    return _write(folder, "pages.tif", buffer.getvalue())


# -------------------------------------------------------------------------------- special (good) inputs


def write_png_named_jpg(folder: Path) -> Path:
    return _write(folder, "really_a_png.jpg", _encoded(make_scene(10, 14, seed=5), "PNG"))


def write_exif_rotated_jpeg(folder: Path, orientation: int = 6, h: int = 24, w: int = 40) -> Path:
    """A JPEG stored ``h x w`` whose EXIF orientation tag says how to turn it upright (6: 90 degrees CW)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "RestoreTestCam"
    scene = make_scene(h, w, seed=6)
    scene[: h // 3, : w // 3] = (255, 0, 0)  # a red top-left corner marks how the stored pixels sit
    return _write(
        folder, f"rotated_{orientation}.jpg", _encoded(scene, "JPEG", quality=95, exif=exif.tobytes())
    )


def write_cmyk_jpeg(folder: Path) -> Path:
    cmyk = Image.fromarray(make_scene(16, 20, seed=8)).convert("CMYK")
    buffer = io.BytesIO()
    cmyk.save(buffer, "JPEG", quality=95)
    return _write(folder, "cmyk.jpg", buffer.getvalue())


def _s15f16(value: float) -> bytes:
    return struct.pack(">i", int(round(value * 65536)))


def make_rgb_icc(
    red: tuple[float, float, float],
    green: tuple[float, float, float],
    blue: tuple[float, float, float],
    gamma: float = 2.2,
    description: str = "restore test RGB",
) -> bytes:
    """A minimal ICC v2 RGB matrix/TRC display profile (D50 colorants, one gamma) built byte by byte."""

    def xyz_tag(xyz: tuple[float, float, float]) -> bytes:
        return b"XYZ " + bytes(4) + b"".join(_s15f16(v) for v in xyz)

    ascii_text = description.encode("ascii") + b"\x00"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(4 + 4 + 2 + 1 + 67)
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, int(round(gamma * 256))) + bytes(2)
    text = b"text" + bytes(4) + b"No copyright, test profile\x00"
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz_tag((0.9642, 1.0, 0.8249))),
        (b"rXYZ", xyz_tag(red)),
        (b"gXYZ", xyz_tag(green)),
        (b"bXYZ", xyz_tag(blue)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", text),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, blobs = b"", b""
    for signature, body in tags:
        padded = body + bytes((-len(body)) % 4)
        table += signature + struct.pack(">II", offset + len(blobs), len(body))
        blobs += padded
    size = offset + len(blobs)
    header = (
        struct.pack(">I", size)
        + bytes(4)
        + struct.pack(">I", 0x02100000)
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + bytes(4 + 4 + 4 + 4 + 8)
        + struct.pack(">I", 0)
        + _s15f16(0.9642)
        + _s15f16(1.0)
        + _s15f16(0.8249)
        + bytes(4 + 16 + 28)
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + blobs


ADOBE_LIKE_RGB = ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))
"""Adobe RGB (1998)-like D50 colorants (a wider gamut than sRGB)."""


def swapped_rgb_icc() -> bytes:
    """A profile whose red and blue colorants are exchanged: file red means displayed blue (easy to test)."""
    red, green, blue = ADOBE_LIKE_RGB
    return make_rgb_icc(blue, green, red, gamma=2.2, description="restore test swapped RGB")


def adobe_like_icc() -> bytes:
    red, green, blue = ADOBE_LIKE_RGB
    return make_rgb_icc(red, green, blue, gamma=563 / 256, description="restore test Adobe-like RGB")


def write_icc_jpeg(
    folder: Path, icc: bytes | None = None, colour: tuple[int, int, int] = (255, 0, 0)
) -> Path:
    """A flat-colour JPEG tagged with a non-sRGB ICC profile (by default the red/blue-swapped one)."""
    flat = np.empty((16, 16, 3), dtype=np.uint8)
    flat[:] = colour
    data = _encoded(flat, "JPEG", quality=100, icc_profile=icc if icc is not None else swapped_rgb_icc())
    return _write(folder, "tagged_icc.jpg", data)


def write_gray16_png(folder: Path, h: int = 9, w: int = 11) -> Path:
    return _write(folder, "gray16.png", _encoded(gradient16(h, w, 1), "PNG"))


def _opencv_png(array: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".png", array)
    assert ok
    return data.tobytes()


def write_rgb16_png(folder: Path, h: int = 9, w: int = 11) -> Path:
    """16-bit RGB PNG whose pixels (in RGB order) are ``gradient16(h, w, 3)``."""
    return _write(folder, "rgb16.png", _opencv_png(gradient16(h, w, 3)[..., ::-1].copy()))


def write_rgba16_png(folder: Path, h: int = 9, w: int = 11) -> Path:
    """16-bit RGBA PNG whose pixels (RGBA order) are ``gradient16(h, w, 4)``."""
    rgba = gradient16(h, w, 4)
    bgra = np.concatenate([rgba[..., 2::-1], rgba[..., 3:]], axis=-1).copy()
    return _write(folder, "rgba16.png", _opencv_png(bgra))


def write_palette_png_transparent(folder: Path) -> Path:
    """A palette PNG whose index 0 is fully transparent (the left half)."""
    indices = np.ones((8, 10), dtype=np.uint8)
    indices[:, :5] = 0
    image = Image.fromarray(indices).convert("P")
    image.putpalette([0, 0, 0, 200, 30, 30] + [0] * (3 * 254))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", transparency=0)
    return _write(folder, "palette_transparent.png", buffer.getvalue())


def alpha_ramp(h: int, w: int) -> np.ndarray:
    """A uint8 alpha plane ramping 0..255 left to right."""
    return np.tile(np.linspace(0, 255, w).round().astype(np.uint8), (h, 1))


def write_la_png(folder: Path, h: int = 8, w: int = 12) -> Path:
    gray = make_scene(h, w, seed=9)[..., 1]
    return _write(folder, "gray_alpha.png", _encoded(np.stack([gray, alpha_ramp(h, w)], axis=-1), "PNG"))


def write_rgba_png(folder: Path, h: int = 8, w: int = 12) -> Path:
    rgba = np.concatenate([make_scene(h, w, seed=10), alpha_ramp(h, w)[..., None]], axis=-1)
    return _write(folder, "rgba.png", _encoded(rgba, "PNG"))


def write_one_pixel(folder: Path) -> Path:
    return _write(folder, "one_pixel.png", _encoded(np.array([[[12, 200, 99]]], dtype=np.uint8), "PNG"))


def write_odd_size(folder: Path, h: int = 7, w: int = 13) -> Path:
    return _write(folder, "odd_7x13.jpg", _encoded(make_scene(h, w, seed=11), "JPEG", quality=95))


def write_non_ascii_name(folder: Path) -> Path:
    return _write(folder, "фото 日本 é.png", _encoded(make_scene(10, 12, seed=12), "PNG"))


def write_gray_png(folder: Path, h: int = 12, w: int = 16) -> Path:
    return _write(folder, "gray.png", _encoded(make_scene(h, w, seed=13)[..., 0], "PNG"))


# ----------------------------------------------------------------------------------------------- sets


BAD_INPUT_WRITERS = {
    "zero_byte": write_zero_byte,
    "random_bytes": write_random_bytes,
    "text_as_jpg": write_text_as_jpg,
    "eps": write_eps,
    "pdf": write_pdf,
    "svg": write_svg,
    "psd": write_psd,
    "truncated_jpeg": write_truncated_jpeg,
    "truncated_png": write_truncated_png,
    "bomb": write_bomb,
    "over_side_limit": write_over_side_limit,
    "animated_gif": write_animated_gif,
    "animated_webp": write_animated_webp,
    "multipage_tiff": write_multipage_tiff,
}
"""Files that ``read_image`` with default options must refuse with a BadImageError naming the file."""

GOOD_INPUT_WRITERS = {
    "scene_png": lambda folder: write_scene(folder, "scene.png"),
    "scene_jpg": lambda folder: write_scene(folder, "scene.jpg"),
    "scene_webp": lambda folder: write_scene(folder, "scene.webp"),
    "scene_tiff": lambda folder: write_scene(folder, "scene.tif"),
    "scene_bmp": lambda folder: write_scene(folder, "scene.bmp"),
    "png_named_jpg": write_png_named_jpg,
    "exif_rotated_jpeg": write_exif_rotated_jpeg,
    "cmyk_jpeg": write_cmyk_jpeg,
    "icc_jpeg": write_icc_jpeg,
    "gray_png": write_gray_png,
    "gray16_png": write_gray16_png,
    "rgb16_png": write_rgb16_png,
    "rgba16_png": write_rgba16_png,
    "palette_transparent_png": write_palette_png_transparent,
    "la_png": write_la_png,
    "rgba_png": write_rgba_png,
    "one_pixel": write_one_pixel,
    "odd_size": write_odd_size,
    "non_ascii_name": write_non_ascii_name,
}
"""Files that ``read_image`` must decode (special modes, sizes, metadata and names)."""


def write_bad_inputs(folder: Path) -> dict[str, Path]:
    """Write every refused case into ``folder``; returns case name -> path."""
    return {name: writer(Path(folder)) for name, writer in BAD_INPUT_WRITERS.items()}


def write_good_inputs(folder: Path) -> dict[str, Path]:
    """Write every decodable special case into ``folder``; returns case name -> path."""
    return {name: writer(Path(folder)) for name, writer in GOOD_INPUT_WRITERS.items()}


__all__ = [
    "ADOBE_LIKE_RGB",
    "BAD_INPUT_WRITERS",
    "GOOD_INPUT_WRITERS",
    "adobe_like_icc",
    "alpha_ramp",
    "gradient16",
    "make_rgb_icc",
    "make_scene",
    "png_chunk",
    "png_header_only",
    "swapped_rgb_icc",
    "write_bad_inputs",
    "write_good_inputs",
    "write_scene",
    *[writer.__name__ for writer in BAD_INPUT_WRITERS.values()],
    *[f"write_{name}" for name in ("png_named_jpg", "exif_rotated_jpeg", "cmyk_jpeg", "icc_jpeg")],
    *[f"write_{name}" for name in ("gray16_png", "rgb16_png", "rgba16_png", "palette_png_transparent")],
    *[
        f"write_{name}"
        for name in ("la_png", "rgba_png", "one_pixel", "odd_size", "non_ascii_name", "gray_png")
    ],
]
