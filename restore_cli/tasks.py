"""The public library API: deblur, colorize, a two-step Pipeline, and inspect_image.

Every function accepts an :class:`restore_cli.io.Image`, a PIL image, or a numpy array (uint8, uint16 or
float in [0, 1]; ``H x W`` or ``H x W x 1|2|3|4``, where 2 and 4 channels carry alpha) and returns the same
kind (PIL images come back 8-bit).
Alpha is set aside and re-attached untouched. ``model`` may be a loaded model, a manifest name, a path to a
``.safetensors`` file, or None for the task's default weights; loaded models are cached per process.

Choices (one place for each rule; the CLI only passes options through):

- Colour photos are never recoloured unasked: the colorize step runs on gray images only (one channel, or
  RGB whose channels agree within ``gray_tolerance``), whatever the order, unless ``recolor=True``.
- ``order="auto"`` also deblurs only images the blur detector calls blurry: ``blur.blur_score``
  (0 sharp .. 1 blurry, from edge widths) at or above ``blur_threshold`` (default
  :data:`DEFAULT_BLUR_THRESHOLD` = 0.5). ``deblur-first`` (the default) and ``colorize-first`` always deblur.
- An image that needs no step is handed back unchanged (same pixels, alpha and bit depth) and its steps are
  ``["unchanged"]``; the CLI still writes it, so an output folder holds every input (see README).
- A gray image that a pipeline will colorize is reduced to one channel first, so a gray deblur model is used
  when there is one.

:meth:`Pipeline.run` returns a :class:`Restored`: the image and the steps that ran, for result lines and JSON.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from restore_cli.errors import NoDefaultWeightsError, UsageError

DEFAULT_BLUR_THRESHOLD = 0.5
DEFAULT_GRAY_TOLERANCE = 2 / 255
ORDERS = ("deblur-first", "colorize-first", "auto")
STEPS = ("deblur", "colorize")
UNCHANGED = "unchanged"
"""The one step reported for an image that needed nothing."""

_default_engine: Any = None
_model_cache: dict[tuple[str, str, str], Any] = {}


# ---------------------------------------------------------------------------------------- engine, models


def default_engine() -> Any:
    """The engine used when none is passed: device auto, fp32, created once."""
    global _default_engine
    if _default_engine is None:
        from restore_cli.engine import Engine

        _default_engine = Engine()
    return _default_engine


def _is_loaded(model: Any) -> bool:
    return hasattr(model, "module") and hasattr(model, "task")


def resolve_model(model: Any, task: str, engine: Any) -> Any:
    """A loaded model for ``task`` from a loaded model, a manifest name, a path, or None (the default).

    For ``task="deblur-gray"`` with no ``model``, the gray default is used when one exists, else the RGB one.
    """
    if _is_loaded(model):
        return model
    if model is not None and not isinstance(model, (str, Path)):
        raise UsageError(
            f"model must be a loaded model, a weights name or a path, not {type(model).__name__}"
        )
    device = str(engine.device)
    if task == "deblur-gray":
        if model is not None:
            return resolve_model(model, "deblur", engine)
        try:
            return _load_cached(None, "deblur-gray", device)
        except NoDefaultWeightsError:
            return _load_cached(None, "deblur", device)
    return _load_cached(model, task, device)


def _load_cached(ref: str | Path | None, task: str, device: str) -> Any:
    key = (str(ref) if ref is not None else "", task, device)
    if key not in _model_cache:
        from restore_cli.weights import load_model

        _model_cache[key] = load_model(ref, task=task, device=device)
    return _model_cache[key]


def check_blur_threshold(value: float) -> float:
    """The blur threshold is a blur score, 0 (sharp) .. 1 (blurry)."""
    if not 0.0 <= float(value) <= 1.0:
        raise UsageError(
            f"--blur-threshold {value} is out of range; use 0 to 1 (default {DEFAULT_BLUR_THRESHOLD}): "
            "it is compared with the blur score that 'restore inspect' shows"
        )
    return float(value)


def check_model_name(name: str | None) -> None:
    """A weights *name* (not a path) that no manifest knows is a usage error, found before anything loads."""
    if name is None:
        return
    text = str(name)
    path = Path(text).expanduser()
    if "/" in text or path.suffix.lower() in (".safetensors", ".pth", ".pt", ".ckpt") or path.is_file():
        return  # a file: checked (and named in the error) when it loads
    from restore_cli.errors import UnknownModelError
    from restore_cli.weights import find_entry

    try:
        find_entry(text)
    except UnknownModelError as err:
        raise UsageError(str(err)) from None


def run_summary(engine: Any, models: dict[str, Any]) -> str:
    """One line saying what will run: each step's model, then device, CPU threads and precision."""
    import torch

    names = []
    for step, loaded in models.items():
        if loaded is None:
            continue
        name = getattr(loaded, "name", None) or Path(str(getattr(loaded, "path", "model"))).name
        names.append(f"{step} {name}")
    device = str(getattr(engine, "device", "cpu"))
    threads = torch.get_num_threads()
    return (
        f"{', '.join(names) or 'no model'} on {device}, {threads} CPU thread{'s' if threads != 1 else ''}, "
        f"{getattr(engine, 'precision', 'fp32')}"
    )


def clear_model_cache() -> None:
    """Forget loaded models (e.g. after weights files changed on disk)."""
    _model_cache.clear()


# ------------------------------------------------------------------------------------ input conversion


@dataclasses.dataclass
class _Input:
    """An input as an :class:`restore_cli.io.Image`, plus what is needed to give back the same kind."""

    image: Any  # restore_cli.io.Image
    kind: str  # "image" | "pil" | "numpy"
    original: Any

    @property
    def pixels(self) -> np.ndarray:
        return self.image.pixels

    @property
    def alpha(self) -> np.ndarray | None:
        return self.image.alpha


def _to_input(image: Any) -> _Input:
    """Accept io.Image, PIL.Image or numpy (converted by io, the one conversion boundary)."""
    from restore_cli import io

    if isinstance(image, io.Image):
        pixels = np.asarray(image.pixels, dtype=np.float32)
        if pixels.ndim == 2:
            image = dataclasses.replace(image, pixels=pixels[..., None])
        return _Input(image, "image", image)
    if isinstance(image, np.ndarray):
        return _Input(io.from_array(image), "numpy", image)
    from PIL import Image as PILImage

    if isinstance(image, PILImage.Image):
        return _Input(io.from_pil(image), "pil", image)
    raise UsageError(
        f"cannot restore a {type(image).__name__}; pass a restore Image, a PIL image or a numpy array"
    )


def _output(inp: _Input, pixels: np.ndarray) -> Any:
    """Give ``pixels`` (H x W x 1|3 float32) back as the kind of object the caller passed in, alpha kept."""
    from restore_cli import io

    pixels = np.clip(pixels, 0.0, 1.0).astype(np.float32, copy=False)
    changes: dict[str, Any] = {"pixels": pixels}
    if pixels.shape[2] != inp.pixels.shape[2]:  # colorized: gray became RGB (bit depth is kept)
        changes["mode"] = "RGBA" if inp.alpha is not None else "RGB"
    result = dataclasses.replace(inp.image, **changes)
    if inp.kind == "image":
        return result
    if inp.kind == "numpy":
        return io.to_array(result, like=inp.original)
    return io.to_pil(result)


# ------------------------------------------------------------------------------------------ operations


def _deblur_pixels(
    pixels: np.ndarray,
    model: Any,
    passes: int,
    engine: Any,
    tile: int | str,
    gray_model: Any = None,
    on_tile: Any = None,
) -> np.ndarray:
    if passes < 1:
        raise UsageError(f"passes must be at least 1, got {passes}")
    gray = pixels.shape[2] == 1
    if gray and gray_model is not None:  # a gray default, given beside the (RGB) default model
        loaded = gray_model
    elif _is_loaded(model):
        loaded = model
    elif model is None and gray:
        loaded = resolve_model(None, "deblur-gray", engine)
    else:
        loaded = resolve_model(model, "deblur", engine)
    if on_tile is None:
        return engine.run_deblur(loaded, pixels, tile=tile, passes=passes)
    return engine.run_deblur(loaded, pixels, tile=tile, passes=passes, on_tile=on_tile)


def check_strength(strength: float) -> float:
    """The colour strength, 0 .. color.MAX_STRENGTH (a UsageError otherwise)."""
    from restore_cli.color import check_strength

    try:
        return check_strength(strength)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _colorize_pixels(pixels: np.ndarray, model: Any, engine: Any, strength: float = 1.0) -> np.ndarray:
    loaded = resolve_model(model, "colorize", engine)
    return engine.run_colorize(loaded, pixels, strength=strength)


def deblur(
    image: Any,
    model: Any = None,
    passes: int = 1,
    engine: Any = None,
    tile: int | str = "auto",
    on_tile: Any = None,
) -> Any:
    """Remove motion blur, ``passes`` times; returns the same kind of object, same size, alpha kept.

    A gray image stays gray; with no ``model`` it uses the gray default when one exists.
    ``on_tile(done, total)`` is called as tiles finish (for progress on large images).
    """
    engine = engine or default_engine()
    inp = _to_input(image)
    return _output(inp, _deblur_pixels(inp.pixels, model, passes, engine, tile, on_tile=on_tile))


def colorize(image: Any, model: Any = None, engine: Any = None, strength: float = 1.0) -> Any:
    """Add colour; the output is RGB (RGBA with the original alpha) with the input's lightness kept.

    ``strength`` scales the colour (the ab chroma): 0 gray, 1 the model's colour, up to 2 more saturated.
    This always runs the model, colour input included (the caller asked for it); to leave colour photos
    alone, use ``Pipeline(only="colorize")``, as ``restore colorize`` does.
    """
    strength = check_strength(strength)
    engine = engine or default_engine()
    inp = _to_input(image)
    return _output(inp, _colorize_pixels(inp.pixels, model, engine, strength))


def _is_gray(pixels: np.ndarray, tolerance: float) -> bool:
    if pixels.shape[2] == 1:
        return True
    from restore_cli import io

    return bool(io.is_gray(pixels, tolerance))


def _blur_score(pixels: np.ndarray) -> float:
    from restore_cli import blur

    return float(blur.blur_score(pixels))


@dataclasses.dataclass
class Restored:
    """What :meth:`Pipeline.run` gives back: the image (same kind as the input) and the steps that ran."""

    image: Any
    steps: list[str]
    """``"deblur"`` and/or ``"colorize"`` in the order they ran, or ``["unchanged"]``."""
    facts: dict[str, Any] | None = None
    """What the decision was based on (gray, blur score) when it was measured, else None."""


class Pipeline:
    """Deblur and colorize in a chosen order, or decide per image (``order="auto"``).

    ``only="deblur"`` or ``only="colorize"`` makes a one-step pipeline (what ``restore deblur`` and
    ``restore colorize`` run). The colorize step skips colour images unless ``recolor``; ``auto`` also skips
    deblurring of images the blur detector finds sharp. Models given by name or None are resolved on
    first use, so such a pipeline never loads the weights of a step it never needs (``restore pipeline``
    passes loaded models: a bad weights file is one clear error before the first image). ``tile`` (default
    ``"auto"``) and ``on_tile(done, total)`` are passed to the engine for deblurring; ``strength`` scales
    the colour of the colorize step (0 gray, 1 the model, up to 2).
    """

    def __init__(
        self,
        order: str = "deblur-first",
        passes: int = 1,
        deblur_model: Any = None,
        colorize_model: Any = None,
        gray_deblur_model: Any = None,
        blur_threshold: float = DEFAULT_BLUR_THRESHOLD,
        gray_tolerance: float = DEFAULT_GRAY_TOLERANCE,
        engine: Any = None,
        tile: int | str = "auto",
        recolor: bool = False,
        only: str | None = None,
        on_tile: Any = None,
        strength: float = 1.0,
    ) -> None:
        if order not in ORDERS:
            raise UsageError(f"unknown order {order!r}; use {', '.join(ORDERS)}")
        if only is not None and only not in STEPS:
            raise UsageError(f"unknown step {only!r}; use {' or '.join(STEPS)}")
        if passes < 1:
            raise UsageError(f"passes must be at least 1, got {passes}")
        check_blur_threshold(blur_threshold)
        if gray_tolerance < 0:
            raise UsageError(f"gray_tolerance must not be negative, got {gray_tolerance}")
        self.order = order
        self.passes = passes
        self.deblur_model = deblur_model
        self.colorize_model = colorize_model
        self.gray_deblur_model = gray_deblur_model
        self.blur_threshold = float(blur_threshold)
        self.gray_tolerance = float(gray_tolerance)
        self.engine = engine
        self.tile = tile
        self.recolor = bool(recolor)
        self.only = only
        self.on_tile = on_tile
        self.strength = check_strength(strength)

    def __repr__(self) -> str:
        return (
            f"Pipeline(order={self.order!r}, passes={self.passes}, blur_threshold={self.blur_threshold}, "
            f"recolor={self.recolor}, only={self.only!r})"
        )

    def _analyse(self, pixels: np.ndarray, blur: bool = True) -> dict[str, Any]:
        facts: dict[str, Any] = {"gray": _is_gray(pixels, self.gray_tolerance)}
        if blur:
            score = _blur_score(pixels)
            facts.update(blur_score=score, blurry=score >= self.blur_threshold)
        return facts

    def _needs_blur_facts(self) -> bool:
        return self.order == "auto" and self.only != "colorize"

    def _steps(self, facts: dict[str, Any]) -> list[str]:
        """The steps to run, in order, from the image's facts (the only place these rules live)."""
        colorize = self.recolor or facts["gray"]
        deblur = facts["blurry"] if self.order == "auto" else True
        if self.only == "deblur":
            return ["deblur"] if deblur else []
        if self.only == "colorize":
            return ["colorize"] if colorize else []
        steps = ["colorize", "deblur"] if self.order == "colorize-first" else ["deblur", "colorize"]
        return [step for step in steps if (deblur if step == "deblur" else colorize)]

    def plan(self, image: Any) -> list[str]:
        """The steps this pipeline would run on ``image``, in order, or ``["unchanged"]``."""
        pixels = _to_input(image).pixels
        return self._steps(self._analyse(pixels, blur=self._needs_blur_facts())) or [UNCHANGED]

    def run(self, image: Any) -> Restored:
        """Run the planned steps; the image comes back as the same kind of object, alpha kept."""
        inp = _to_input(image)
        pixels = inp.pixels
        facts = self._analyse(pixels, blur=self._needs_blur_facts())
        steps = self._steps(facts)
        if not steps:
            return Restored(_output(inp, pixels), [UNCHANGED], facts)
        engine = self.engine or default_engine()
        if "colorize" in steps and facts["gray"] and pixels.shape[2] == 3:
            pixels = pixels.mean(axis=2, keepdims=True, dtype=np.float32)
        for step in steps:
            if step == "deblur":
                pixels = _deblur_pixels(
                    pixels,
                    self.deblur_model,
                    self.passes,
                    engine,
                    self.tile,
                    gray_model=self.gray_deblur_model,
                    on_tile=self.on_tile,
                )
            else:
                pixels = _colorize_pixels(pixels, self.colorize_model, engine, self.strength)
        return Restored(_output(inp, pixels), steps, facts)

    def __call__(self, image: Any) -> Any:
        """Like :meth:`run`, but only the image."""
        return self.run(image).image


def inspect_image(
    image: Any,
    blur_threshold: float = DEFAULT_BLUR_THRESHOLD,
    gray_tolerance: float = DEFAULT_GRAY_TOLERANCE,
) -> dict[str, Any]:
    """Size, mode, bit depth, gray or not, blur score, and what ``--order auto`` would do (JSON-ready)."""
    inp = _to_input(image)
    h, w, c = inp.pixels.shape
    auto = Pipeline(order="auto", blur_threshold=blur_threshold, gray_tolerance=gray_tolerance)
    facts = auto._analyse(inp.pixels)
    mode = image.mode if inp.kind == "pil" else inp.image.mode
    bit_depth = int(inp.image.bit_depth)
    info: dict[str, Any] = {
        "size": [w, h],
        "width": w,
        "height": h,
        "mode": mode,
        "bit_depth": bit_depth,
        "channels": c,
        "alpha": inp.alpha is not None,
        "gray": facts["gray"],
        "blur_score": round(facts["blur_score"], 3),
        "blur_threshold": float(blur_threshold),
        "blurry": facts["blurry"],
        "auto": auto._steps(facts) or [UNCHANGED],
    }
    path = inp.image.path
    if path is not None:
        info["path"] = str(path)
    return info


__all__ = [
    "DEFAULT_BLUR_THRESHOLD",
    "DEFAULT_GRAY_TOLERANCE",
    "UNCHANGED",
    "Pipeline",
    "Restored",
    "check_blur_threshold",
    "check_model_name",
    "clear_model_cache",
    "colorize",
    "deblur",
    "default_engine",
    "inspect_image",
    "resolve_model",
    "run_summary",
]
