"""Registry of architectures: one decorator registers a constructor, one function builds any of them.

Each architecture is described by an :class:`ArchSpec` (task, channels, size multiple, colour space, ...), so
callers ask the spec instead of using ``isinstance``. Architecture modules are imported lazily, on first use
of the registry, so ``import restore_cli`` stays fast (no torch import).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from restore_cli.errors import UnknownModelError

# Modules that register architectures when imported (each imports torch).
_ARCH_MODULES = (
    "restore_cli.models.nafnet",
    "restore_cli.models.unet",
    "restore_cli.models.deblurgan",
    "restore_cli.models.eccv16",
    "restore_cli.models.siggraph17",
    "restore_cli.models.rednet",
    "restore_cli.models.msdeblur",
)


@dataclass(frozen=True)
class ArchSpec:
    """What a caller needs to know about an architecture without building it.

    task: "deblur" or "colorize".
    in_channels/out_channels: for deblur, image channels in/out (3 RGB or 1 gray; a Laplacian channel is
      computed inside the model and not counted); for colorize, 1 (L) in and 2 (ab) out.
    size_multiple: inputs are padded to a multiple of this before the forward pass.
    color_space: "rgb" (deblur: image in [0, 1]) or "lab" (colorize: see restore_cli.color).
    work_size: colorizers run at this resolution (shorter side), deblurrers at full resolution (None).
    defaults: default hyperparameters; ``create_model(id, **overrides)`` merges them.
    inference_form: optional ``module -> module`` giving a faster copy with the same outputs, for inference
      only (folded parameters, channels_last); see ``LoadedModel.inference_module``.
    """

    id: str
    task: str
    build: Callable[..., Any]
    size_multiple: int = 1
    color_space: str = "rgb"
    work_size: int | None = None
    supports_half: bool = True
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    inference_form: Callable[[Any], Any] | None = None

    def hyper(self, **overrides: Any) -> dict[str, Any]:
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            raise UnknownModelError(
                f"architecture {self.id!r} has no hyperparameter(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(self.defaults))}"
            )
        return {**self.defaults, **overrides}


_REGISTRY: dict[str, ArchSpec] = {}
_loaded = False


def register(spec: ArchSpec) -> ArchSpec:
    """Add an architecture to the registry (called at import time by each architecture module)."""
    if spec.id in _REGISTRY and _REGISTRY[spec.id] is not spec:
        raise ValueError(f"architecture {spec.id!r} registered twice")
    _REGISTRY[spec.id] = spec
    return spec


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    for name in _ARCH_MODULES:
        importlib.import_module(name)
    _loaded = True


def list_archs(task: str | None = None) -> list[str]:
    """Ids of all registered architectures, optionally only those for one task."""
    _load_all()
    return sorted(k for k, v in _REGISTRY.items() if task is None or v.task == task)


def get_arch(arch_id: str) -> ArchSpec:
    """The spec of one architecture; an unknown id fails with the list of valid ones."""
    _load_all()
    try:
        return _REGISTRY[arch_id]
    except KeyError:
        raise UnknownModelError(
            f"unknown architecture {arch_id!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None


def create_model(arch_id: str, **hyper: Any):
    """Build an architecture with its default hyperparameters, overridden by ``hyper``."""
    spec = get_arch(arch_id)
    return spec.build(**spec.hyper(**hyper))


__all__ = ["ArchSpec", "create_model", "get_arch", "list_archs", "register"]
