"""The decode/encode boundary: the only module that reads or writes image files.

Everything that reaches a model comes through :func:`read_image` as an :class:`Image` whose ``pixels`` are
float32 ``H x W x C`` in [0, 1] (C = 1 gray or 3 RGB), upright and in sRGB; everything the tool writes goes
through :func:`write_image`, atomically. Choices made here, and why:

- Formats by content, from an allow-list. Files are identified by their bytes, not their extension (PNG
  bytes named ``.jpg`` decode fine). Only PNG, JPEG (and camera MPO, read as its primary JPEG), WebP, TIFF,
  BMP and GIF are opened; EPS, PDF, PSD, SVG and everything else are refused before any decoder runs.
- Limits are errors. Pillow's decompression-bomb guard is turned from a warning into an error at
  ``max_pixels`` (default: Pillow's own ``MAX_IMAGE_PIXELS``) and a side limit ``max_side`` applies too;
  both are checked from the header, before any pixel is decoded. Callers may raise them; the guard is
  never switched off.
- Truncated files are refused (Pillow's ``LOAD_TRUNCATED_IMAGES`` is never set), as are folders,
  non-regular files, empty files and anything a decoder rejects: always a ``BadImageError`` naming the file.
- Animated / multi-frame images (GIF, WebP, APNG, multi-page TIFF) are refused unless ``frame=N`` is given.
- EXIF orientation is applied so pixels are upright; the EXIF block is kept with orientation reset to 1
  and written back by :func:`write_image` (``keep_metadata=False`` strips it). TIFF tags are not carried.
- ICC profiles are converted, not carried. An 8-bit RGB or CMYK image with a non-sRGB profile is
  converted to sRGB with LittleCMS (Pillow's ImageCms) before the model, and outputs are untagged sRGB.
  The source profile's name is kept in ``Image.source_profile`` for reporting. 16-bit colour and gray
  images keep their values (Pillow's LittleCMS binding cannot hold 16-bit RGB); their profile is ignored.
- 16 bits are kept. 16-bit gray goes through Pillow (``I;16``); 16-bit RGB(A) PNG/TIFF, which Pillow
  would truncate to 8 bits, is decoded and encoded with OpenCV (BGR order converted).
- Alpha is split off into ``Image.alpha`` and re-attached on write. JPEG cannot store it: an image with
  any transparent pixel is refused for JPEG output; a fully opaque alpha is dropped.
- Writes are atomic: a temporary file in the destination folder, fsync, then ``os.replace`` (or a hard
  link when overwriting is not allowed, so a file appearing meanwhile is never clobbered). On any failure
  the temporary file is removed and the destination is untouched. An image's own source file is never
  overwritten.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import ImageCms

from restore_cli.errors import BadImageError
from restore_cli.fsutil import atomic_write

DEFAULT_MAX_PIXELS: int = int(PILImage.MAX_IMAGE_PIXELS or 89_478_485)
"""Largest pixel count decoded by default (Pillow's decompression-bomb limit, treated as an error)."""

DEFAULT_MAX_SIDE: int = 32768
"""Largest width or height decoded by default."""

INPUT_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF")
"""Pillow format ids that :func:`read_image` opens (JPEG includes camera MPO); all else is refused."""

SUPPORTED_OUTPUT_FORMATS: dict[str, str] = {
    "png": "PNG",
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "webp": "WEBP",
    "tif": "TIFF",
    "tiff": "TIFF",
}
"""Output file extension (lower case, no dot) -> format written."""

_ALLOWED_NAMES = "PNG, JPEG, WebP, TIFF, BMP, GIF"
_OUTPUT_NAMES = ", ".join(f".{ext}" for ext in SUPPORTED_OUTPUT_FORMATS)
_SIXTEEN_BIT_OUTPUTS = ("PNG", "TIFF")
_EXIF_ORIENTATION = 0x0112

# Known refused formats, recognised by their first bytes so the message can name them.
_REFUSED_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF"),
    (b"%!PS", "EPS/PostScript"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"8BPS", "PSD (Photoshop)"),
    (b"\x00\x00\x01\x00", "ICO"),
)

_LIMIT_LOCK = threading.Lock()


@dataclass
class Image:
    """A decoded image: upright sRGB pixels in [0, 1], alpha split off, and what is needed to write back."""

    pixels: np.ndarray
    """float32 ``H x W x C`` in [0, 1], C = 1 (gray) or 3 (RGB)."""
    alpha: np.ndarray | None = None
    """float32 ``H x W`` in [0, 1], or None when the source had no transparency."""
    bit_depth: int = 8
    """8 or 16: the precision of the source, kept on write where the format allows."""
    mode: str = "RGB"
    """Pillow mode as decoded (e.g. ``L``, ``P``, ``RGBA``, ``CMYK``, ``I;16``)."""
    format: str | None = None
    """Source format (``PNG``, ``JPEG``, ...) or None for images made in memory."""
    exif: bytes | None = None
    """Raw EXIF block with orientation reset to 1, or None."""
    path: Path | None = None
    """The file this image was read from, or None."""
    source_profile: str | None = None
    """Description of the non-sRGB ICC profile converted from, or None when none was converted."""

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        return 1 if self.pixels.ndim == 2 else int(self.pixels.shape[2])


# --------------------------------------------------------------------------------------------------- reading


def read_image(
    path: str | os.PathLike[str],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int = DEFAULT_MAX_SIDE,
    frame: int | None = None,
) -> Image:
    """Decode an image file into an upright sRGB :class:`Image`; every failure is a :class:`BadImageError`.

    ``max_pixels`` and ``max_side`` bound the decoded size (checked from the header before decoding);
    ``frame`` picks one frame of an animated or multi-page file (refused without it).
    """
    file_path = Path(path)
    _check_readable_file(file_path)
    try:
        handle = open(file_path, "rb")  # noqa: SIM115 - closed below, after lazy decoding finishes
    except PermissionError as exc:
        raise BadImageError(
            "cannot read the file (permission denied); check its permissions", file_path
        ) from exc
    except OSError as exc:
        raise BadImageError(
            f"cannot open the file ({exc.strerror or exc}); check the path", file_path
        ) from exc
    with handle:
        try:
            return _decode(handle, file_path, max_pixels, max_side, frame)
        except BadImageError:
            raise
        except MemoryError as exc:
            message = "not enough memory to decode this image; free memory or lower --max-pixels"
            raise BadImageError(message, file_path) from exc
        except Exception as exc:  # safety net: untrusted bytes may fail anywhere; contract: BadImageError
            message = f"cannot decode the image ({_reason(exc)}); the file is damaged"
            raise BadImageError(message, file_path) from exc


def read_image_bytes(
    data: bytes,
    name: str = "<stdin>",
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int = DEFAULT_MAX_SIDE,
    frame: int | None = None,
) -> Image:
    """Like :func:`read_image` for bytes already in memory (standard input); errors name ``name``."""
    label = Path(name)
    if not data:
        raise BadImageError("is empty (0 bytes); pipe an image file into it", label)
    try:
        image = _decode(io.BytesIO(data), label, max_pixels, max_side, frame)
    except BadImageError:
        raise
    except MemoryError as exc:
        raise BadImageError("not enough memory to decode this image", label) from exc
    except Exception as exc:  # same contract as read_image: untrusted bytes fail as BadImageError
        raise BadImageError(f"cannot decode the image ({_reason(exc)}); the data is damaged", label) from exc
    image.path = None  # not a file: nothing on disk to protect from being overwritten
    return image


def _decode(handle: Any, path: Path, max_pixels: int, max_side: int, frame: int | None) -> Image:
    """Sniff, check limits from the header, pick the frame, then decode (Pillow, or OpenCV for 16-bit RGB)."""
    head = handle.read(1024)
    handle.seek(0)
    with _decompression_bomb_limit(max_pixels):
        pil = _open_allowed(handle, head, path, max_pixels)
        try:
            _check_limits(pil.size, path, max_pixels, max_side)
            _select_frame(pil, frame, path, max_pixels, max_side)
            if _needs_opencv(pil, head):
                handle.seek(0)
                return _decode_16bit_colour(pil, handle.read(), path, frame)
            _load(pil, path, max_pixels)
            return _from_loaded_pil(pil, path, apply_orientation=True)
        finally:
            pil.close()


def _check_readable_file(path: Path) -> None:
    """Refuse missing paths, folders, devices/FIFOs and empty files with a message that says what to do."""
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise BadImageError("no such file; check the path", path) from exc
    except PermissionError as exc:
        raise BadImageError(
            "cannot access the file (permission denied); check its permissions", path
        ) from exc
    except OSError as exc:
        raise BadImageError(f"cannot access the file ({exc.strerror or exc}); check the path", path) from exc
    if stat.S_ISDIR(info.st_mode):
        raise BadImageError(
            "is a folder, not an image file; pass an image file (or a folder with --recursive)", path
        )
    if not stat.S_ISREG(info.st_mode):
        raise BadImageError("is not a regular file (device, pipe or socket); pass an image file", path)
    if info.st_size == 0:
        raise BadImageError("is empty (0 bytes); the file is damaged or was not fully copied", path)


@contextlib.contextmanager
def _decompression_bomb_limit(max_pixels: int) -> Iterator[None]:
    """Make Pillow's bomb guard an error at ``max_pixels`` for the duration of a decode.

    Pillow's bomb warning becomes an exception; its other warnings (about damaged metadata) are silenced.
    When the caller raises the limit above Pillow's default, Pillow's global limit is raised (under a lock,
    restored afterwards) so its hard error follows the caller's choice; our own size check still applies per
    call, so concurrent decodes never see a weaker limit than asked for.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Pillow's notes on damaged metadata
        warnings.simplefilter("error", PILImage.DecompressionBombWarning)
        if max_pixels <= DEFAULT_MAX_PIXELS:
            yield
            return
        with _LIMIT_LOCK:
            previous = PILImage.MAX_IMAGE_PIXELS
            PILImage.MAX_IMAGE_PIXELS = max_pixels
            try:
                yield
            finally:
                PILImage.MAX_IMAGE_PIXELS = previous


def _open_allowed(handle: Any, head: bytes, path: Path, max_pixels: int) -> PILImage.Image:
    """Identify the format by content and open it lazily (header only); refuse what is not allowed."""
    refused = _refused_format_name(head)
    if refused:
        raise BadImageError(
            f"{refused} files are not supported (allowed: {_ALLOWED_NAMES}); export the image as PNG or JPEG",
            path,
        )
    try:
        return PILImage.open(handle, formats=list(INPUT_FORMATS))
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise _bomb_error(path, max_pixels) from exc
    except PILImage.UnidentifiedImageError as exc:
        raise BadImageError(
            f"not a recognised image (allowed: {_ALLOWED_NAMES}); the file is damaged or of another type",
            path,
        ) from exc
    except Exception as exc:  # any decoder failure on untrusted bytes means "cannot decode"
        raise BadImageError(
            f"cannot decode the image header ({_reason(exc)}); the file is damaged", path
        ) from exc


def _refused_format_name(head: bytes) -> str | None:
    for signature, name in _REFUSED_SIGNATURES:
        if head.startswith(signature):
            return name
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if (
        text.startswith(b"<svg")
        or (text.startswith(b"<?xml") and b"<svg" in text)
        or b"<!doctype svg" in text
    ):
        return "SVG"
    return None


def _bomb_error(path: Path, max_pixels: int) -> BadImageError:
    return BadImageError(
        f"image is larger than the limit of {max_pixels} pixels (possible decompression bomb); "
        "raise --max-pixels only if you trust this file",
        path,
    )


def _check_limits(size: tuple[int, int], path: Path, max_pixels: int, max_side: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise BadImageError(
            f"image header declares an empty size {width}x{height}; the file is damaged", path
        )
    if width * height > max_pixels:
        raise BadImageError(
            f"image is {width}x{height} = {width * height} pixels, over the limit of {max_pixels} "
            "(possible decompression bomb); raise --max-pixels only if you trust this file",
            path,
        )
    if max(width, height) > max_side:
        raise BadImageError(
            f"image is {width}x{height}, a side over the limit of {max_side}; "
            "raise --max-side only if you trust this file",
            path,
        )


def _select_frame(pil: PILImage.Image, frame: int | None, path: Path, max_pixels: int, max_side: int) -> None:
    """Refuse multi-frame images unless a frame is chosen; seek to the chosen one.

    Frames are not counted up front (counting walks the whole file): ``is_animated`` looks for a second
    frame only, and the count is taken just to explain an out-of-range ``frame``.
    """
    try:
        animated = pil.format != "MPO" and bool(getattr(pil, "is_animated", False))
    except Exception as exc:
        raise BadImageError(f"cannot read the frames ({_reason(exc)}); the file is damaged", path) from exc
    if frame is None:
        if animated:
            raise BadImageError(
                "is animated or has several pages; choose one with --frame N (0 is the first)", path
            )
        return
    if frame < 0 or (frame > 0 and not animated):
        raise _no_such_frame(pil, frame, path)
    if frame == 0:
        return
    try:
        pil.seek(frame)
    except EOFError as exc:
        raise _no_such_frame(pil, frame, path) from exc
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise _bomb_error(path, max_pixels) from exc
    except Exception as exc:
        raise BadImageError(f"cannot read frame {frame} ({_reason(exc)}); the file is damaged", path) from exc
    _check_limits(pil.size, path, max_pixels, max_side)


def _no_such_frame(pil: PILImage.Image, frame: int, path: Path) -> BadImageError:
    try:
        frames = 1 if pil.format == "MPO" else int(getattr(pil, "n_frames", 1))
    except Exception:
        return BadImageError(f"has no frame {frame}; choose a frame that exists (0 is the first)", path)
    last = f"0..{frames - 1}" if frames > 1 else "only 0"
    return BadImageError(f"has no frame {frame} (it has {frames}: {last}); choose a frame in range", path)


def _load(pil: PILImage.Image, path: Path, max_pixels: int) -> None:
    try:
        pil.load()
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise _bomb_error(path, max_pixels) from exc
    except MemoryError as exc:
        raise BadImageError(
            "not enough memory to decode this image; lower its size or free memory", path
        ) from exc
    except Exception as exc:  # truncated data, corrupt streams, decoder errors: all "cannot decode"
        raise BadImageError(
            f"cannot decode the image ({_reason(exc)}); the file is truncated or damaged", path
        ) from exc


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]


# --------------------------------------------------------------------------------------- pixels from Pillow


def _from_loaded_pil(pil: PILImage.Image, path: Path | None, *, apply_orientation: bool) -> Image:
    """Turn a loaded Pillow image (any mode) into an :class:`Image`: profile, modes, alpha, orientation."""
    source_mode = pil.mode
    source_format = "JPEG" if pil.format == "MPO" else pil.format
    orientation, exif = _exif_of(pil)
    pil, profile_name = _to_srgb(pil)
    pixels, alpha, bit_depth = _pil_pixels(pil, path)
    if apply_orientation:
        pixels = _orient(pixels, orientation)
        alpha = None if alpha is None else _orient(alpha, orientation)
    return Image(
        pixels=pixels,
        alpha=alpha,
        bit_depth=bit_depth,
        mode=source_mode,
        format=source_format,
        exif=exif,
        path=path,
        source_profile=profile_name,
    )


def _exif_of(pil: PILImage.Image) -> tuple[int, bytes | None]:
    """Return (orientation, EXIF bytes with orientation reset to 1); a broken EXIF block is dropped."""
    orientation = 1
    try:
        value = pil.getexif().get(_EXIF_ORIENTATION, 1)
        orientation = int(value) if int(value) in range(1, 9) else 1
    except Exception:
        orientation = 1
    raw = pil.info.get("exif")
    if not isinstance(raw, bytes | bytearray) or not raw:
        return orientation, None
    try:
        exif = PILImage.Exif()
        exif.load(bytes(raw))
        if _EXIF_ORIENTATION in exif:
            exif[_EXIF_ORIENTATION] = 1
        return orientation, exif.tobytes()
    except Exception:
        return orientation, None


def _to_srgb(pil: PILImage.Image) -> tuple[PILImage.Image, str | None]:
    """Convert an 8-bit RGB/RGBA/CMYK image with a non-sRGB ICC profile to sRGB; return the profile's name."""
    icc = pil.info.get("icc_profile")
    if not icc or pil.mode not in ("RGB", "RGBA", "RGBX", "CMYK"):
        return pil, None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = (ImageCms.getProfileDescription(profile) or "").strip()
        space = profile.profile.xcolor_space.strip()
    except Exception:
        return pil, None  # an unreadable profile is ignored: the pixels are taken as sRGB
    if "srgb" in description.lower():
        return pil, None
    colour_mode = "CMYK" if pil.mode == "CMYK" else "RGB"
    if space != colour_mode:
        return pil, None
    alpha = pil.getchannel("A") if pil.mode == "RGBA" else None
    source = pil if colour_mode == "CMYK" else pil.convert("RGB")
    try:
        converted = ImageCms.profileToProfile(source, profile, _srgb_profile(), outputMode="RGB")
    except Exception:
        return pil, None
    assert converted is not None
    if alpha is not None:
        converted.putalpha(alpha)
    return converted, description or "unnamed ICC profile"


_SRGB: ImageCms.ImageCmsProfile | None = None


def _srgb_profile() -> ImageCms.ImageCmsProfile:
    global _SRGB
    if _SRGB is None:
        _SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return _SRGB


def _pil_pixels(pil: PILImage.Image, path: Path | None) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Pixels (float32 HxWxC in [0, 1]), alpha and bit depth of a Pillow image of any supported mode."""
    mode = pil.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return _as_float(np.asarray(pil), 65535.0)[..., None], None, 16
    if mode == "I":
        values = np.clip(np.asarray(pil, dtype=np.float64), 0, 65535)
        return (values / 65535.0).astype(np.float32)[..., None], None, 16
    if mode == "F":
        values = np.nan_to_num(np.asarray(pil, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        return np.clip(values, 0.0, 1.0)[..., None], None, 16
    if mode == "P":
        has_alpha = "transparency" in pil.info or pil.palette is not None and pil.palette.mode == "RGBA"
        pil = pil.convert("RGBA" if has_alpha else "RGB")
    elif mode == "PA":
        pil = pil.convert("RGBA")
    elif mode == "1":
        pil = pil.convert("L")
    elif mode == "La":
        pil = pil.convert("LA")
    elif mode == "RGBa":
        pil = pil.convert("RGBA")
    elif mode == "L" and "transparency" in pil.info:
        pil = pil.convert("LA")
    elif mode == "RGB" and "transparency" in pil.info:
        pil = pil.convert("RGBA")
    elif mode == "LAB":  # CIELab TIFF
        lab_to_srgb = ImageCms.buildTransform(ImageCms.createProfile("LAB"), _srgb_profile(), "LAB", "RGB")
        pil = ImageCms.applyTransform(pil, lab_to_srgb)
    elif pil.mode not in ("L", "LA", "RGB", "RGBA"):
        try:
            pil = pil.convert("RGB")  # CMYK without a profile, YCbCr, RGBX, HSV
        except Exception as exc:
            raise BadImageError(
                f"unsupported colour mode {mode}; convert the image to RGB first", path
            ) from exc
    array = _as_float(np.asarray(pil), 255.0)
    if array.ndim == 2:
        return array[..., None], None, 8
    if pil.mode == "LA":
        return np.ascontiguousarray(array[..., :1]), np.ascontiguousarray(array[..., 1]), 8
    if pil.mode == "RGBA":
        return np.ascontiguousarray(array[..., :3]), np.ascontiguousarray(array[..., 3]), 8
    return array, None, 8


def _as_float(array: np.ndarray, scale: float) -> np.ndarray:
    """``array / scale`` as float32, scaled in place so a large image needs one float copy, not two."""
    result = np.asarray(array).astype(np.float32)
    result /= np.float32(scale)  # divided, not multiplied by 1/scale: k/255 stays exactly rounded
    return result


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an ``H x W [x C]`` array so the result is upright."""
    if orientation == 2:
        array = array[:, ::-1]
    elif orientation == 3:
        array = array[::-1, ::-1]
    elif orientation == 4:
        array = array[::-1]
    elif orientation == 5:
        array = array.swapaxes(0, 1)
    elif orientation == 6:
        array = np.rot90(array, k=-1)
    elif orientation == 7:
        array = array.swapaxes(0, 1)[::-1, ::-1]
    elif orientation == 8:
        array = np.rot90(array, k=1)
    else:
        return array
    return np.ascontiguousarray(array)


# ------------------------------------------------------------------------------------- 16-bit colour (OpenCV)


def _needs_opencv(pil: PILImage.Image, head: bytes) -> bool:
    """True for 16-bit RGB(A)/gray+alpha PNG and TIFF, which Pillow would reduce to 8 bits."""
    if pil.format == "PNG":
        if head[12:16] != b"IHDR" or len(head) < 26:
            return False
        return head[24] == 16 and head[25] in (2, 4, 6) and not getattr(pil, "is_animated", False)
    if pil.format == "TIFF":
        try:
            bits = pil.tag_v2.get(258)
            samples = int(pil.tag_v2.get(277, 1))
        except Exception:
            return False
        bits_list = list(bits) if isinstance(bits, tuple | list) else [bits]
        return samples >= 3 and bool(bits_list) and all(b == 16 for b in bits_list)
    return False


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's codec warnings (printed to stderr otherwise); the library never prints."""
    import cv2

    try:
        previous = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except Exception:  # older builds without the logging module
        yield
        return
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


def _opencv_decode(buffer: np.ndarray, frame: int | None) -> np.ndarray | None:
    import cv2

    if frame:
        ok, pages = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED)
        return pages[frame] if ok and frame < len(pages) else None
    return cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)


def _decode_16bit_colour(pil: PILImage.Image, data: bytes, path: Path, frame: int | None) -> Image:
    """Decode 16-bit colour PNG/TIFF with OpenCV, checking structure with Pillow first (truncation, CRCs)."""
    import cv2

    if pil.format == "PNG":
        try:
            checker = PILImage.open(io.BytesIO(data), formats=["PNG"])
            checker.verify()
        except Exception as exc:
            raise BadImageError(
                f"cannot decode the image ({_reason(exc)}); the file is truncated or damaged", path
            ) from exc
    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        with _quiet_opencv():
            decoded = _opencv_decode(buffer, frame)
    except cv2.error as exc:
        raise BadImageError(f"cannot decode the image ({_reason(exc)}); the file is damaged", path) from exc
    width, height = pil.size
    if decoded is None or decoded.shape[:2] != (height, width) or decoded.dtype != np.uint16:
        raise BadImageError("cannot decode the 16-bit image; the file is truncated or damaged", path)
    if decoded.ndim == 2:
        decoded = decoded[..., None]
    values = _as_float(decoded, 65535.0)
    channels = values.shape[2]
    alpha = np.ascontiguousarray(values[..., 3]) if channels == 4 else None
    gray_png = pil.format == "PNG" and len(data) > 25 and data[25] == 4
    if gray_png or channels == 1:
        pixels = np.ascontiguousarray(values[..., :1])
    else:
        pixels = np.ascontiguousarray(values[..., 2::-1])  # BGR -> RGB
    orientation, exif = _exif_of(pil)
    pixels = _orient(pixels, orientation)
    alpha = None if alpha is None else _orient(alpha, orientation)
    mode = ("LA" if gray_png else "RGBA") if alpha is not None else ("L" if pixels.shape[2] == 1 else "RGB")
    return Image(pixels=pixels, alpha=alpha, bit_depth=16, mode=mode, format=pil.format, exif=exif, path=path)


# --------------------------------------------------------------------------------------------------- writing


def write_image(
    image: Image,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    keep_metadata: bool = True,
    quality: int = 95,
) -> Path:
    """Encode ``image`` to ``path`` atomically (format from the extension); return the path written.

    Refuses an existing destination unless ``overwrite``, and always refuses the image's own source file.
    16-bit images stay 16-bit in PNG and TIFF; alpha is re-attached; EXIF is written when ``keep_metadata``.
    Missing parent folders are created. On any failure nothing is left behind and the destination is
    untouched.
    """
    destination = Path(path)
    file_format = _output_format(destination)
    if not 1 <= int(quality) <= 100:
        raise BadImageError(f"quality {quality} is out of range; use 1..100", destination)
    _check_destination(image, destination, overwrite)
    payload = _encode(image, file_format, destination, keep_metadata=keep_metadata, quality=int(quality))
    _atomic_write(payload, destination, overwrite)
    return destination


def encode_image(
    image: Image, file_format: str, *, keep_metadata: bool = True, quality: int = 95, name: str = "<stdout>"
) -> bytes:
    """The bytes :func:`write_image` would write for the extension ``file_format`` (``"png"``...)."""
    label = Path(name)
    resolved = _output_format(Path(f"x.{file_format.lower().lstrip('.')}"))
    if not 1 <= int(quality) <= 100:
        raise BadImageError(f"quality {quality} is out of range; use 1..100", label)
    return _encode(image, resolved, label, keep_metadata=keep_metadata, quality=int(quality))


def _output_format(destination: Path) -> str:
    extension = destination.suffix.lower().lstrip(".")
    if extension not in SUPPORTED_OUTPUT_FORMATS:
        shown = f".{extension}" if extension else "no extension"
        raise BadImageError(f"cannot write {shown}; use one of {_OUTPUT_NAMES}", destination)
    return SUPPORTED_OUTPUT_FORMATS[extension]


def _check_destination(image: Image, destination: Path, overwrite: bool) -> None:
    if image.path is not None and _same_file(Path(image.path), destination):
        raise BadImageError(
            "is the input image itself; inputs are never overwritten, choose another output", destination
        )
    if destination.is_dir():
        raise BadImageError("is a folder; give an output file name", destination)
    if destination.exists() and not overwrite:
        raise BadImageError(
            "already exists; pass --overwrite to replace it (or --skip-existing)", destination
        )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _encode(image: Image, file_format: str, destination: Path, *, keep_metadata: bool, quality: int) -> bytes:
    """Encode to bytes in memory so a failure can never touch the file system."""
    pixels, alpha = _checked_planes(image, destination)
    _check_alpha_fits(alpha, file_format, destination)
    if alpha is not None and file_format == "JPEG":
        alpha = None  # fully opaque: nothing is lost
    sixteen = image.bit_depth == 16 and file_format in _SIXTEEN_BIT_OUTPUTS
    exif = image.exif if keep_metadata and image.exif else None
    try:
        if sixteen and (pixels.shape[2] == 3 or alpha is not None):
            return _encode_16bit_colour(pixels, alpha, file_format, exif)
        pil = _to_pil_planes(pixels, alpha, sixteen=sixteen)
        options: dict[str, Any] = {}
        if exif:
            options["exif"] = exif
        if file_format == "JPEG":
            options.update(quality=quality, subsampling=0 if quality >= 90 else 2)
        elif file_format == "WEBP":
            options.update(quality=quality, method=4)
        elif file_format == "PNG":
            # Level 2: on ten 1280x720 photos 99 ms a file against 133 ms at 3 and 368 ms at 6, files 3% and
            # 5% larger (benchmarks/results/startup.md); lossless at any level.
            options.update(compress_level=2)
        elif file_format == "TIFF":
            options.update(compression="tiff_adobe_deflate")
        buffer = io.BytesIO()
        pil.save(buffer, format=file_format, **options)
        return buffer.getvalue()
    except BadImageError:
        raise
    except Exception as exc:
        raise BadImageError(
            f"cannot encode as {file_format} ({_reason(exc)}); try .png", destination
        ) from exc


def _check_alpha_fits(alpha: np.ndarray | None, file_format: str, destination: Path) -> None:
    if alpha is not None and file_format == "JPEG" and float(np.min(alpha)) < 1.0:
        raise BadImageError(
            "JPEG cannot store transparency; write .png (or .webp/.tiff) instead", destination
        )


def check_writable(image: Image, path: str | os.PathLike[str], file_format: str | None = None) -> None:
    """Raise the error :func:`write_image` would raise for reasons that do not depend on the pixels' values
    after processing (format, transparency into JPEG), so callers can refuse an image before a model runs.

    ``file_format`` (an extension such as ``"jpg"``) overrides the one taken from ``path``.
    """
    destination = Path(path)
    if file_format is None:
        resolved = _output_format(destination)
    else:
        resolved = _output_format(Path(f"x.{file_format.lower().lstrip('.')}"))
    _check_alpha_fits(image.alpha, resolved, destination)


def _checked_planes(image: Image, destination: Path) -> tuple[np.ndarray, np.ndarray | None]:
    pixels = np.asarray(image.pixels)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3) or pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise BadImageError(
            f"cannot write pixels of shape {pixels.shape}; expected H x W x 1 or 3", destination
        )
    alpha = None if image.alpha is None else np.asarray(image.alpha)
    if alpha is not None and alpha.shape != pixels.shape[:2]:
        raise BadImageError(
            f"alpha of shape {alpha.shape} does not match pixels {pixels.shape[:2]}; this is a bug",
            destination,
        )
    return pixels, alpha


def _quantise(values: np.ndarray, sixteen: bool) -> np.ndarray:
    """[0, 1] floats to rounded uint8 / uint16 (clipped; NaN -> 0), with one float temporary."""
    top = np.float32(65535.0 if sixteen else 255.0)
    scaled = np.multiply(values, top, dtype=np.float32)
    np.clip(scaled, 0.0, top, out=scaled)
    np.rint(scaled, out=scaled)
    np.nan_to_num(scaled, copy=False, nan=0.0)
    return scaled.astype(np.uint16 if sixteen else np.uint8)


def _to_pil_planes(pixels: np.ndarray, alpha: np.ndarray | None, *, sixteen: bool = False) -> PILImage.Image:
    """Pillow image from planes: 8-bit L/LA/RGB/RGBA, or 16-bit gray (I;16) when ``sixteen`` and gray."""
    if sixteen:
        return PILImage.fromarray(np.ascontiguousarray(_quantise(pixels[..., 0], sixteen=True)))
    colour = _quantise(pixels, sixteen=False)
    if alpha is not None:
        colour = np.concatenate([colour, _quantise(alpha, sixteen=False)[..., None]], axis=2)
    if colour.shape[2] == 1:
        colour = colour[..., 0]
    return PILImage.fromarray(np.ascontiguousarray(colour))


def _encode_16bit_colour(
    pixels: np.ndarray, alpha: np.ndarray | None, file_format: str, exif: bytes | None
) -> bytes:
    """16-bit RGB(A) (and gray+alpha, stored as RGBA) with OpenCV; EXIF goes into a PNG eXIf chunk."""
    import cv2

    colour = _quantise(pixels, sixteen=True)
    if colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    bgr = colour[..., ::-1]
    if alpha is not None:
        bgr = np.concatenate([bgr, _quantise(alpha, sixteen=True)[..., None]], axis=2)
    extension = ".png" if file_format == "PNG" else ".tiff"
    with _quiet_opencv():
        ok, encoded = cv2.imencode(extension, np.ascontiguousarray(bgr))
    if not ok:
        raise ValueError("OpenCV could not encode the image")
    data = encoded.tobytes()
    if exif and file_format == "PNG":
        data = _png_with_exif(data, exif)
    return data


def _png_with_exif(png: bytes, exif: bytes) -> bytes:
    """Insert an eXIf chunk right after IHDR (PNG 1.5 extension, read by Pillow and browsers)."""
    body = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
    chunk = struct.pack(">I", len(body)) + b"eXIf" + body + struct.pack(">I", zlib.crc32(b"eXIf" + body))
    ihdr_end = 8 + 4 + 4 + 13 + 4
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def _atomic_write(payload: bytes, destination: Path, overwrite: bool) -> None:
    """Write ``payload`` atomically through :func:`restore_cli.fsutil.atomic_write`; errors name the file."""
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadImageError(
            f"cannot create the output folder ({exc.strerror or exc}); choose another", destination.parent
        ) from exc
    try:
        atomic_write(destination, payload, overwrite=overwrite)
    except FileExistsError as exc:
        raise BadImageError(
            "already exists; pass --overwrite to replace it (or --skip-existing)", destination
        ) from exc
    except OSError as exc:
        reason = exc.strerror or _reason(exc)
        raise BadImageError(
            f"cannot write the file ({reason}); check free space and permissions", destination
        ) from exc


# --------------------------------------------------------------------------------- helpers for other modules


def from_pil(pil_image: PILImage.Image) -> Image:
    """An :class:`Image` from an in-memory Pillow image (any mode; ICC converted; orientation left as is)."""
    try:
        pil_image.load()
    except Exception as exc:
        raise BadImageError(f"cannot read the Pillow image ({_reason(exc)})") from exc
    path = getattr(pil_image, "filename", None) or None
    return _from_loaded_pil(pil_image, None if path is None else Path(path), apply_orientation=False)


def to_pil(image: Image) -> PILImage.Image:
    """An 8-bit Pillow image (L, LA, RGB or RGBA) of ``image``, alpha re-attached."""
    pixels, alpha = _checked_planes(image, Path(image.path) if image.path else Path("<image>"))
    return _to_pil_planes(pixels, alpha)


def from_array(array: np.ndarray) -> Image:
    """An :class:`Image` from uint8 / uint16 / float ``H x W`` or ``H x W x C`` (C = 1..4; 2, 4 = alpha)."""
    values = np.asarray(array)
    if values.ndim == 2:
        values = values[..., None]
    if values.ndim != 3 or values.shape[2] not in (1, 2, 3, 4) or 0 in values.shape:
        raise BadImageError(
            f"cannot use an array of shape {np.shape(array)} as an image; expected H x W [x 1|2|3|4]"
        )
    if values.dtype == np.uint8:
        scaled, bit_depth = _as_float(values, 255.0), 8
    elif values.dtype == np.uint16:
        scaled, bit_depth = _as_float(values, 65535.0), 16
    elif values.dtype == np.bool_ or np.issubdtype(values.dtype, np.floating):
        scaled = np.clip(np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
        bit_depth = 8
    else:
        raise BadImageError(
            f"cannot use an array of dtype {values.dtype} as an image; use uint8, uint16 or float"
        )
    colour_channels = 1 if values.shape[2] in (1, 2) else 3
    pixels = np.ascontiguousarray(scaled[..., :colour_channels])
    alpha = np.ascontiguousarray(scaled[..., colour_channels]) if values.shape[2] in (2, 4) else None
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[values.shape[2]]
    if bit_depth == 16 and mode == "L":
        mode = "I;16"
    return Image(pixels=pixels, alpha=alpha, bit_depth=bit_depth, mode=mode)


def read_rgb8(path: str | os.PathLike[str], **limits: Any) -> np.ndarray:
    """Decode ``path`` with :func:`read_image` to uint8 ``H x W x 3`` RGB (gray repeated, alpha dropped).

    For training data and benchmarks, which work on 8-bit RGB arrays; ``limits`` go to :func:`read_image`.
    """
    pixels = read_image(path, **limits).pixels
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return np.ascontiguousarray(_quantise(pixels[:, :, :3], sixteen=False))


def write_rgb8(array: np.ndarray, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
    """Write a uint8 ``H x W [x 1|3]`` array with :func:`write_image` (for data sets, bench outputs, reports).

    Unlike :func:`write_image` it overwrites by default: these files are regenerated, not user photos.
    """
    return write_image(from_array(np.asarray(array, dtype=np.uint8)), path, overwrite=overwrite)


def to_array(image: Image, like: np.ndarray | None = None) -> np.ndarray:
    """Pixels (alpha appended as the last channel) as an array in the dtype and layout of ``like``.

    ``like`` None gives float32 ``H x W x C``. With ``like``: uint8 / uint16 are scaled and rounded, floats
    keep [0, 1]; a 2-D ``like`` gives a 2-D result when the image is single-channel without alpha.
    """
    planes = [image.pixels] if image.alpha is None else [image.pixels, image.alpha[..., None]]
    values = np.concatenate(planes, axis=2) if len(planes) > 1 else np.asarray(image.pixels)
    if like is None:
        return np.ascontiguousarray(values, dtype=np.float32)
    like = np.asarray(like)
    if like.dtype == np.uint8:
        result = _quantise(values, sixteen=False)
    elif like.dtype == np.uint16:
        result = _quantise(values, sixteen=True)
    elif np.issubdtype(like.dtype, np.floating):
        result = np.clip(values, 0.0, 1.0).astype(like.dtype)
    else:
        result = np.clip(values, 0.0, 1.0).astype(np.float32)
    if like.ndim == 2 and result.shape[2] == 1:
        result = result[..., 0]
    return np.ascontiguousarray(result)


def is_gray(pixels: np.ndarray, tol: float = 2 / 255) -> bool:
    """True when ``pixels`` has one channel, or its first three channels agree within ``tol`` everywhere.

    ``tol`` is in [0, 1] units; integer arrays are compared on their own scale (uint8: ``tol * 255``).
    """
    values = np.asarray(pixels)
    if values.ndim == 2 or values.shape[-1] == 1:
        return True
    if values.shape[-1] < 3:
        return True
    scale = 255.0 if values.dtype == np.uint8 else 65535.0 if values.dtype == np.uint16 else 1.0
    # A colour photo shows its colour within a few rows: decided on about 32 of them in numpy, a colour
    # image never imports OpenCV (20 ms of a one-photo deblur). Images that pass get the full check.
    sample = values[:: max(1, values.shape[0] // 32), :, :3].astype(np.float32)
    for first, second in ((0, 1), (1, 2), (0, 2)):
        if np.abs(sample[..., first] - sample[..., second]).max() > tol * scale:
            return False
    import cv2

    if values.dtype not in (np.uint8, np.uint16, np.float32):
        values = values.astype(np.float32)
    planes = cv2.split(np.ascontiguousarray(values[..., :3]))  # OpenCV: far faster than numpy's axis=-1
    for first, second in ((0, 1), (1, 2), (0, 2)):
        largest = cv2.minMaxLoc(cv2.absdiff(planes[first], planes[second]))[1]
        if largest > tol * scale:
            return False
    return True


__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_SIDE",
    "INPUT_FORMATS",
    "SUPPORTED_OUTPUT_FORMATS",
    "Image",
    "check_writable",
    "encode_image",
    "from_array",
    "from_pil",
    "is_gray",
    "read_image",
    "read_image_bytes",
    "to_array",
    "to_pil",
    "write_image",
]
