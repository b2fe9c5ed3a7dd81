"""A restoring session: one engine, the models of one run, and the rules that say what runs on each image.

Made once per run (``restore deblur``, ``colorize`` and ``pipeline``, a bench row, a library call) like
rembg's session. :class:`Restorer` is the one place for these rules; ``tasks.deblur``, ``tasks.colorize``
and ``tasks.Pipeline`` are presets of it:

- **Steps.** Colour photos are never recoloured unasked: the colorize step runs on gray images only (one
  channel, or RGB whose channels agree within ``gray_tolerance``), whatever the order, unless ``recolor``.
  ``order="auto"`` also deblurs only images the blur detector calls blurry (``blur.blur_score`` at or above
  ``blur_threshold``). An image that needs no step comes back unchanged, its steps ``["unchanged"]``.
- **Gray photos are restored on one channel** (:meth:`Restorer.run`): an RGB-encoded gray photo is reduced
  to its mean channel first, so ``restore deblur`` and ``restore pipeline`` treat it alike, it gets the gray
  deblur model when there is one, and no model can tint it; what is still one channel at the end is written
  back in the photo's own mode (RGB stays RGB, with equal channels).
- **Which deblur model an image gets** (:meth:`Restorer.deblur_model`): three channels, the deblur model;
  one channel, an explicit gray model, else the deblur model the caller named, else the gray default when
  one is installed, else the RGB default (the engine runs it on replicated channels).
- **Models are resolved once per session, lazily.** A model is loaded when an image first needs it, so a
  run never loads the weights of a step it never takes (``--order auto`` on sharp colour photos loads none).
  :meth:`Restorer.prepare` (the CLI calls it before the first image) loads the models the caller *named*
  (a bad file is one clear error up front) and checks that the defaults the run may need are installed
  (``NoDefaultWeightsError`` up front); defaults themselves are read, hashed and built on first use, once.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from restore_cli.choices import ORDERS
from restore_cli.errors import NoDefaultWeightsError, RestoreError, UsageError

if TYPE_CHECKING:
    from restore_cli.engine import Engine
    from restore_cli.models.descriptor import ModelDescriptor

DEFAULT_BLUR_THRESHOLD = 0.5
DEFAULT_GRAY_TOLERANCE = 2 / 255
STEPS = ("deblur", "colorize")
UNCHANGED = "unchanged"
"""The one step reported for an image that needed nothing."""

_GRAY = "deblur-gray"
_default_engine: Any = None
_model_cache: dict[tuple[str, str, str], Any] = {}
"""Models loaded by the library presets, shared by the process (``tasks.clear_model_cache`` empties it)."""


def default_engine() -> Any:
    """The engine used when none is passed: device auto, fp32, created once."""
    global _default_engine
    if _default_engine is None:
        from restore_cli.engine import Engine

        _default_engine = Engine()
    return _default_engine


def is_loaded(model: Any) -> bool:
    """True for a loaded model: a :class:`~restore_cli.models.descriptor.ModelDescriptor`."""
    from restore_cli.models.descriptor import ModelDescriptor

    return isinstance(model, ModelDescriptor)


def check_model_ref(model: Any) -> Any:
    """A model reference is a loaded model, a manifest name, a path, or None (the task's default)."""
    if model is None or is_loaded(model) or isinstance(model, (str, Path)):
        return model
    raise UsageError(f"model must be a loaded model, a weights name or a path, not {type(model).__name__}")


def check_model_name(name: str | None) -> None:
    """A weights *name* (not a path) that no manifest knows is a usage error, found before anything loads."""
    if name is None:
        return
    text = str(name)
    path = Path(text).expanduser()
    from restore_cli.errors import UnknownModelError
    from restore_cli.weights import find_entry, looks_like_file

    if looks_like_file(text) or path.is_file():
        return  # a file: checked (and named in the error) when it loads
    try:
        find_entry(text)
    except UnknownModelError as err:
        raise UsageError(str(err)) from None


def load(ref: str | Path | None, task: str, device: str, cache: dict | None = None) -> Any:
    """``weights.load_model(ref, task=task, device=device)``, through ``cache`` when one is given."""
    from restore_cli import weights

    if cache is None:
        return weights.load_model(ref, task=task, device=device)
    key = (str(ref) if ref is not None else "", task, device)
    if key not in cache:
        cache[key] = weights.load_model(ref, task=task, device=device)
    return cache[key]


def check_blur_threshold(value: float) -> float:
    """The blur threshold is a blur score, 0 (sharp) .. 1 (blurry)."""
    if not 0.0 <= float(value) <= 1.0:
        raise UsageError(
            f"--blur-threshold {value} is out of range; use 0 to 1 (default {DEFAULT_BLUR_THRESHOLD}): "
            "it is compared with the blur score that 'restore inspect' shows"
        )
    return float(value)


def check_strength(strength: float) -> float:
    """The colour strength, 0 .. color.MAX_STRENGTH (a UsageError otherwise)."""
    from restore_cli.color import check_strength

    try:
        return check_strength(strength)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run_summary(engine: Engine, models: dict[str, str | ModelDescriptor | None]) -> str:
    """One line saying what will run: each step's model (loaded, or its name), device, threads, precision."""
    names = []
    for step, model in models.items():
        if model is not None:
            names.append(f"{step} {model if isinstance(model, str) else model_name(model)}")
    threads = f"{engine.threads} CPU thread{'s' if engine.threads != 1 else ''}"
    return f"{', '.join(names) or 'no model'} on {engine.device}, {threads}, {engine.precision}"


def model_name(model: ModelDescriptor) -> str:
    """How the start line names a loaded model: its manifest name, else its file's name."""
    return model.name or Path(str(model.path or model.arch)).name


# ------------------------------------------------------------------------------------ input conversion


@dataclasses.dataclass
class Input:
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


def to_input(image: Any) -> Input:
    """Accept io.Image, PIL.Image or numpy (converted by io, the one conversion boundary)."""
    from restore_cli import io

    if isinstance(image, io.Image):
        pixels = np.asarray(image.pixels, dtype=np.float32)
        if pixels.ndim == 2:
            image = dataclasses.replace(image, pixels=pixels[..., None])
        return Input(image, "image", image)
    if isinstance(image, np.ndarray):
        return Input(io.from_array(image), "numpy", image)
    from PIL import Image as PILImage

    if isinstance(image, PILImage.Image):
        return Input(io.from_pil(image), "pil", image)
    raise UsageError(
        f"cannot restore a {type(image).__name__}; pass a restore Image, a PIL image or a numpy array"
    )


def to_output(inp: Input, pixels: np.ndarray) -> Any:
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


def is_gray(pixels: np.ndarray, tolerance: float) -> bool:
    if pixels.shape[2] == 1:
        return True
    from restore_cli import io

    return bool(io.is_gray(pixels, tolerance))


# ------------------------------------------------------------------------------------------- the session


@dataclasses.dataclass
class Restored:
    """What :meth:`Restorer.run` gives back: the image (same kind as the input) and the steps that ran."""

    image: Any
    steps: list[str]
    """``"deblur"`` and/or ``"colorize"`` in the order they ran, or ``["unchanged"]``."""
    facts: dict[str, Any] | None = None
    """What the decision was based on (gray, blur score) when it was measured, else None."""


class Restorer:
    """Deblur and/or colorize images with one engine and one set of models (see the module's rules).

    ``only="deblur"`` or ``only="colorize"`` makes a one-step session (``restore deblur``, ``restore
    colorize``); otherwise both steps in ``order``. Models are loaded models, manifest names, paths, or None
    for the task's default; ``gray_deblur_model`` is used for gray images when given. ``tile`` and
    ``on_tile(done, total)`` go to the engine's deblurring; ``strength`` scales the colour (0 gray, 1 the
    model, up to 2). ``cache``: where loaded models are kept; None shares the process-wide cache of the
    library functions, a fresh ``{}`` makes a session of its own (the CLI: one load per run, none kept).
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
        cache: dict | None = None,
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
        self.refs = {
            "deblur": check_model_ref(deblur_model),
            "colorize": check_model_ref(colorize_model),
            _GRAY: check_model_ref(gray_deblur_model),
        }
        self.blur_threshold = float(blur_threshold)
        self.gray_tolerance = float(gray_tolerance)
        self.engine = engine
        self.tile = tile
        self.recolor = bool(recolor)
        self.only = only
        self.on_tile = on_tile
        self.strength = check_strength(strength)
        self._cache = _model_cache if cache is None else cache
        self._models: dict[str, Any] = {}
        self._has_gray_default: bool | None = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(order={self.order!r}, passes={self.passes}, "
            f"blur_threshold={self.blur_threshold}, recolor={self.recolor}, only={self.only!r})"
        )

    # -- models ---------------------------------------------------------------------------------------------

    @property
    def steps(self) -> tuple[str, ...]:
        """The steps this session may take (each image takes some of them)."""
        return (self.only,) if self.only else STEPS

    def _engine(self) -> Any:
        if self.engine is None:
            self.engine = default_engine()
        return self.engine

    def model(self, key: str) -> Any:
        """The model for ``key`` (``deblur``, ``colorize`` or ``deblur-gray``), loaded on first use."""
        if key not in self._models:
            ref = self.refs[key]
            if is_loaded(ref):
                self._models[key] = ref
            else:
                try:
                    self._models[key] = load(ref, key, str(self._engine().device), self._cache)
                except RestoreError as err:  # every later image fails alike, without reading the file again
                    self._models[key] = err
        found = self._models[key]
        if isinstance(found, RestoreError):
            # Without its old traceback: re-raising the same object appends this call's frames to it, so a
            # batch would keep every failed image's frames (and pixels) alive through the one cached error.
            raise found.with_traceback(None)
        return found

    def deblur_model(self, channels: int) -> Any:
        """The deblur model for an image of ``channels`` channels: the one gray-model rule (module doc)."""
        if channels == 1 and (
            self.refs[_GRAY] is not None or (self.refs["deblur"] is None and self._gray_default())
        ):
            return self.model(_GRAY)
        return self.model("deblur")

    def _gray_default(self) -> bool:
        """Whether a gray deblur default is installed, asked once (``default_for`` has no fallback)."""
        if self._has_gray_default is None:
            from restore_cli import weights

            self._has_gray_default = weights.default_for(_GRAY) is not None
        return self._has_gray_default

    def prepare(self, how_to_name: dict[str, str] | None = None) -> Restorer:
        """Before the first image: load the models named by reference (a bad file is one error now) and check
        that the defaults the steps may need are installed; defaults are still loaded on first use.

        ``how_to_name[step]`` says how a caller names weights for ``step`` (the CLI's options), for the
        error when no default is installed.
        """
        from restore_cli import weights

        for step in self.steps:
            ref = self.refs[step]
            if ref is not None:
                self.model(step)
            elif weights.default_for(step) is None:
                how = (how_to_name or {}).get(step, "--weights FILE.safetensors or --model NAME")
                raise NoDefaultWeightsError(
                    f"no default {step} weights are installed; pass {how} (see `restore weights list`), "
                    "or import some with `restore weights import`"
                )
        if "deblur" in self.steps and self.refs[_GRAY] is not None:
            self.model(_GRAY)  # named too: a bad gray file is the same one error up front
        return self

    def model_names(self) -> dict[str, str]:
        """Each step's model name, without loading defaults (the manifest names them)."""
        from restore_cli import weights

        names = {}
        for step in self.steps:
            if step in self._models or self.refs[step] is not None:
                loaded = self.model(step)
                names[step] = model_name(loaded)
            else:
                entry = weights.default_for(step)
                names[step] = entry.name if entry is not None else "(no default)"
        return names

    def summary(self) -> str:
        """The start line: each step's model, device, CPU threads and precision."""
        return run_summary(self._engine(), self.model_names())

    # -- deciding ------------------------------------------------------------------------------------------

    def analyse(self, pixels: np.ndarray, blur: bool = True) -> dict[str, Any]:
        """The facts the steps are chosen from: gray or not and, with ``blur``, the blur score."""
        facts: dict[str, Any] = {"gray": is_gray(pixels, self.gray_tolerance)}
        if blur:
            from restore_cli import blur as blur_detector

            score = float(blur_detector.blur_score(pixels))
            facts.update(blur_score=score, blurry=score >= self.blur_threshold)
        return facts

    def _needs_blur_facts(self) -> bool:
        return self.order == "auto" and self.only != "colorize"

    def steps_for(self, facts: dict[str, Any]) -> list[str]:
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
        """The steps this session would run on ``image``, in order, or ``["unchanged"]``."""
        pixels = to_input(image).pixels
        return self.steps_for(self.analyse(pixels, blur=self._needs_blur_facts())) or [UNCHANGED]

    # -- running -------------------------------------------------------------------------------------------

    def run(self, image: Any) -> Restored:
        """Run the planned steps; the image comes back as the same kind of object, alpha kept."""
        inp = to_input(image)
        pixels = inp.pixels
        facts = self.analyse(pixels, blur=self._needs_blur_facts())
        steps = self.steps_for(facts)
        if not steps:
            return Restored(to_output(inp, pixels), [UNCHANGED], facts)
        engine = self._engine()
        channels = pixels.shape[2]
        if facts["gray"] and channels == 3:  # the gray rule: one channel through the models
            pixels = pixels.mean(axis=2, keepdims=True, dtype=np.float32)
        for step in steps:
            if step == "deblur":
                loaded = self.deblur_model(pixels.shape[2])
                extra = {} if self.on_tile is None else {"on_tile": self.on_tile}
                pixels = engine.run_deblur(loaded, pixels, tile=self.tile, passes=self.passes, **extra)
            else:
                pixels = engine.run_colorize(self.model("colorize"), pixels, strength=self.strength)
        if pixels.shape[2] < channels:  # still gray: back in the photo's own mode
            pixels = np.repeat(pixels, channels, axis=2)
        return Restored(to_output(inp, pixels), steps, facts)

    def __call__(self, image: Any) -> Any:
        """Like :meth:`run`, but only the image."""
        return self.run(image).image

