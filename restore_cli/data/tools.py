"""Writers of training pairs on disk: synthetic blur from sharp photos, and frame averaging of videos.

Both write the GoPro layout (``OUT/<name>/blur/*.png`` and ``OUT/<name>/sharp/*.png``) that
``restore train deblur --data OUT`` reads as pairs. Files are written atomically (through
``restore_cli.io``) so an interrupted run leaves no half-written image.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from restore_cli.data.datasets import find_images, read_rgb_u8
from restore_cli.data.synth import Degradation, blur_linear, to_linear, to_srgb
from restore_cli.errors import BadImageError, UsageError
from restore_cli.io import write_rgb8


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)


def write_synth_pairs(
    sharp_dir: str | Path,
    out_dir: str | Path,
    kind: str = "mixed",
    per_image: int = 1,
    seed: int = 0,
    kernel_size: int = 31,
    noise: bool = True,
) -> int:
    """Blur every photo under ``sharp_dir`` ``per_image`` times; write pairs under ``out_dir/synth``.

    Pair ``j`` of photo ``i`` is a pure function of ``(seed, i, j)``. Returns the number of pairs written.
    """
    paths = find_images(sharp_dir)
    if not paths:
        raise UsageError("no images (jpg/png/tif) found; give --sharp a folder of sharp photos", sharp_dir)
    degradation = Degradation(kind=kind, kernel_size=kernel_size)
    if not noise:
        degradation.p_noise = degradation.p_poisson = degradation.p_jpeg = 0.0
    out = Path(out_dir) / "synth"
    count = 0
    for i, path in enumerate(paths):
        sharp_u8 = read_rgb_u8(path)
        sharp = sharp_u8.astype(np.float32) / 255.0
        for j in range(per_image):
            rng = np.random.default_rng([seed, i, j])
            blurred = degradation.apply(sharp, rng)
            name = f"{i:05d}_{j:02d}.png"
            write_rgb8(sharp_u8, out / "sharp" / name)
            write_rgb8(_to_u8(blurred), out / "blur" / name)
            count += 1
    return count


def write_kernel_pairs(
    sharp_dir: str | Path, out_dir: str | Path, kernels_dir: str | Path, seed: int = 0
) -> int:
    """Blur every photo under ``sharp_dir``, whole, by one of the recorded kernels in ``kernels_dir``.

    The kernel (and a random transpose) is chosen per photo exactly as training validation chooses it
    (``kernel_val_set`` with the same seed), but the full-resolution photo is kept, so ``restore bench``
    on the written GoPro-layout folder measures what training validation measures on centre crops.
    Blur is in linear light (gamma 2.2), image borders reflected, rounded to 8 bits.
    """
    from restore_cli.data.validation import load_kernels, pick_kernel

    paths = find_images(sharp_dir)
    if not paths:
        raise UsageError("no images (jpg/png/tif) found; give --sharp a folder of sharp photos", sharp_dir)
    kernels = load_kernels(kernels_dir)
    rng = np.random.default_rng(seed)
    out = Path(out_dir) / "synth"
    for i, path in enumerate(paths):
        sharp_u8 = read_rgb_u8(path)
        blurred = blur_linear(sharp_u8.astype(np.float32) / 255.0, pick_kernel(kernels, rng))
        name = f"{i:05d}_00.png"
        write_rgb8(sharp_u8, out / "sharp" / name)
        write_rgb8(_to_u8(blurred), out / "blur" / name)
    return len(paths)


@dataclass
class VideoPairStats:
    """What frame averaging did to one video."""

    frames: int = 0
    scene_cuts: int = 0
    pairs: int = 0


def parse_frame_range(text: str) -> tuple[int, int]:
    """``"7-13"`` -> (7, 13); ``"9"`` -> (9, 9). Averaging needs at least 2 frames."""
    lo, _, hi = text.partition("-")
    try:
        a, b = int(lo), int(hi or lo)
    except ValueError:
        raise UsageError(f"--frames takes N or N-M, e.g. 7-13 (got {text!r})") from None
    if a < 2 or b < a:
        raise UsageError(f"--frames must be a range of at least 2 frames, e.g. 7-13 (got {text!r})")
    return a, b


def read_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Decode a video's frames as RGB uint8 (OpenCV VideoCapture)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise BadImageError(
            "cannot open this video; give a file OpenCV can decode (mp4, avi, mov, ...)", path
        )
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference in [0, 1] of two frames' 64x64 gray thumbnails (a scene-cut detector)."""

    def thumb(x: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) if x.ndim == 3 else x
        return cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0

    return float(np.abs(thumb(a) - thumb(b)).mean())


def average_frames(frames: list[np.ndarray], gamma: float = 2.2) -> np.ndarray:
    """The blurred frame: mean of the frames in linear light (like a long exposure), back to sRGB, uint8."""
    acc = np.zeros(frames[0].shape, dtype=np.float32)
    for f in frames:
        acc += to_linear(f.astype(np.float32) / 255.0, gamma)
    return _to_u8(to_srgb(acc / len(frames), gamma))


def video_to_pairs(
    video: str | Path,
    out_dir: str | Path,
    frames: tuple[int, int] = (7, 13),
    gamma: float = 2.2,
    scene_threshold: float = 0.2,
    every: int = 10,
    seed: int = 0,
) -> VideoPairStats:
    """Frame-averaged blur/sharp pairs from one video (Nah et al.): ``OUT/<video stem>/{blur,sharp}/N.png``.

    A window of M consecutive frames (M drawn in ``frames`` with ``seed``) is averaged in linear light; its
    middle frame is the sharp target. A window never spans a scene cut (thumbnail difference above
    ``scene_threshold``); a new window starts at most every ``every`` frames.
    """
    lo, hi = frames
    rng = np.random.default_rng(seed)
    out = Path(out_dir) / Path(video).stem
    stats = VideoPairStats()
    buffer: deque[np.ndarray] = deque(maxlen=hi)
    want = int(rng.integers(lo, hi + 1))
    since_last = every  # allow a window as soon as enough frames are buffered
    previous = None
    for frame in read_frames(video):
        stats.frames += 1
        if previous is not None and frame_difference(previous, frame) > scene_threshold:
            stats.scene_cuts += 1
            buffer.clear()
        previous = frame
        buffer.append(frame)
        since_last += 1
        if len(buffer) >= want and since_last >= every:
            window = list(buffer)[-want:]
            name = f"{stats.pairs:06d}.png"
            write_rgb8(average_frames(window, gamma), out / "blur" / name)
            write_rgb8(window[len(window) // 2], out / "sharp" / name)
            stats.pairs += 1
            since_last = 0
            want = int(rng.integers(lo, hi + 1))
    if stats.frames == 0:
        raise BadImageError("no frames could be decoded from this video", video)
    return stats
