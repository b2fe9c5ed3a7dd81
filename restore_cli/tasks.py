"""The public library API: deblur, colorize, a two-step Pipeline, and inspect_image.

Every function accepts an :class:`restore_cli.io.Image`, a PIL image, or a numpy array (uint8, uint16 or
float in [0, 1]; ``H x W`` or ``H x W x 1|2|3|4``, where 2 and 4 channels carry alpha) and returns the same
kind (PIL images come back 8-bit).
Alpha is set aside and re-attached untouched. ``model`` may be a loaded model, a manifest name, a path to a
``.safetensors`` file, or None for the task's default weights; loaded models are cached per process.

Each function is a preset of :class:`restore_cli.restorer.Restorer`, which holds every rule (which steps
run on which image, how gray photos are handled, which model a gray image gets): see that module.
:meth:`Pipeline.run` returns a :class:`Restored`: the image and the steps that ran, for result lines and JSON.
"""

from __future__ import annotations

from typing import Any

from restore_cli.restorer import (
    DEFAULT_BLUR_THRESHOLD,
    DEFAULT_GRAY_TOLERANCE,
    ORDERS,
    STEPS,
    UNCHANGED,
    Restored,
    Restorer,
    _model_cache,
    check_blur_threshold,
    check_model_name,
    check_model_ref,
    check_strength,
    default_engine,
    is_loaded,
    load,
    run_summary,
    to_input,
)


def resolve_model(model: Any, task: str, engine: Any) -> Any:
    """A loaded model for ``task`` from a loaded model, a manifest name, a path, or None (the default)."""
    if is_loaded(check_model_ref(model)):
        return model
    return load(model, task, str(engine.device), _model_cache)


def clear_model_cache() -> None:
    """Forget loaded models (e.g. after weights files changed on disk)."""
    _model_cache.clear()


def deblur(
    image: Any,
    model: Any = None,
    passes: int = 1,
    engine: Any = None,
    tile: int | str = "auto",
    on_tile: Any = None,
) -> Any:
    """Remove motion blur, ``passes`` times; returns the same kind of object, same size, alpha kept.

    A gray image stays gray, is restored on one channel, and with no ``model`` uses the gray default when
    one exists. ``on_tile(done, total)`` is called as tiles finish (for progress on large images).
    """
    session = Restorer(
        only="deblur", passes=passes, deblur_model=model, engine=engine, tile=tile, on_tile=on_tile
    )
    return session(image)


def colorize(image: Any, model: Any = None, engine: Any = None, strength: float = 1.0) -> Any:
    """Add colour; the output is RGB (RGBA with the original alpha) with the input's lightness kept.

    ``strength`` scales the colour (the ab chroma): 0 gray, 1 the model's colour, up to 2 more saturated.
    This always runs the model, colour input included (the caller asked for it); to leave colour photos
    alone, use ``Pipeline(only="colorize")``, as ``restore colorize`` does.
    """
    return Restorer(only="colorize", recolor=True, colorize_model=model, engine=engine, strength=strength)(
        image
    )


class Pipeline(Restorer):
    """Deblur and colorize in a chosen order, or decide per image (``order="auto"``).

    ``only="deblur"`` or ``only="colorize"`` makes a one-step pipeline (what ``restore deblur`` and
    ``restore colorize`` run). The colorize step skips colour images unless ``recolor``; ``auto`` also skips
    deblurring of images the blur detector finds sharp. Models given by name or None are resolved on
    first use, so a pipeline never loads the weights of a step it never needs. ``tile`` (default
    ``"auto"``) and ``on_tile(done, total)`` are passed to the engine for deblurring; ``strength`` scales
    the colour of the colorize step (0 gray, 1 the model, up to 2). The rules: :mod:`restore_cli.restorer`.
    """


def inspect_image(
    image: Any,
    blur_threshold: float = DEFAULT_BLUR_THRESHOLD,
    gray_tolerance: float = DEFAULT_GRAY_TOLERANCE,
) -> dict[str, Any]:
    """Size, mode, bit depth, gray or not, blur score, and what ``--order auto`` would do (JSON-ready)."""
    inp = to_input(image)
    h, w, c = inp.pixels.shape
    auto = Restorer(order="auto", blur_threshold=blur_threshold, gray_tolerance=gray_tolerance)
    facts = auto.analyse(inp.pixels)
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
        "auto": auto.steps_for(facts) or [UNCHANGED],
    }
    path = inp.image.path
    if path is not None:
        info["path"] = str(path)
    return info


__all__ = [
    "DEFAULT_BLUR_THRESHOLD",
    "DEFAULT_GRAY_TOLERANCE",
    "ORDERS",
    "STEPS",
    "UNCHANGED",
    "Pipeline",
    "Restored",
    "Restorer",
    "check_blur_threshold",
    "check_model_name",
    "check_strength",
    "clear_model_cache",
    "colorize",
    "deblur",
    "default_engine",
    "inspect_image",
    "resolve_model",
    "run_summary",
]
