"""Registry of architectures: each module registers one :class:`ArchSpec`; one function builds any.

A spec says what a caller needs without building the network, and everything that depends on the
hyperparameters (size multiple, head, memory per pixel) is a function of them, stated once here and read
through :class:`~restore_cli.models.descriptor.ModelDescriptor`. Importable architectures also carry their
``detect`` and ``hyper_from_state`` (the upstream key layout and how tensor shapes give the hyperparameters),
used by ``restore weights import`` and to cross-check a weights file's metadata on load.

Adding an architecture: write ``restore_cli/models/<arch>.py`` (the network and one
``register(ArchSpec(...))``) and add its module to ``_ARCH_MODULES``. Architecture modules are imported on
first use of the registry, so ``import restore_cli`` stays fast (no torch import).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from restore_cli.errors import UnknownModelError

# Modules that register architectures when imported (each imports torch). Their order is the order in which
# `restore weights import` tries the detectors.
_ARCH_MODULES = (
    "restore_cli.models.nafnet",
    "restore_cli.models.unet",
    "restore_cli.models.deblurgan",
    "restore_cli.models.eccv16",
    "restore_cli.models.siggraph17",
    "restore_cli.models.rednet",
    "restore_cli.models.msdeblur",
)

TASKS = ("deblur", "colorize")
HEADS = ("image", "ab", "bins")


def _image_head(hyper: Mapping[str, Any]) -> str:
    return "image"


@dataclass(frozen=True)
class ArchSpec:
    """What a caller needs to know about an architecture without building it.

    id: the name in weights metadata and ``--arch``.
    task: "deblur" (image in [0, 1] -> restored image) or "colorize" ((L - 50) / 100 -> ab or bin logits).
    build: ``build(**hyper) -> nn.Module`` (the trained form, in train mode).
    defaults: every hyperparameter with its default; ``hyper(**overrides)`` merges them (unknown: refused).
    size_multiple_of: ``hyper -> int``; inputs are padded to a multiple of it (the one place it is stated).
    bytes_per_pixel_of: ``hyper -> int``, activation memory per input pixel at inference, a rough upper
      estimate the engine uses to choose tile sizes.
    head_of: ``hyper -> "image" | "ab" | "bins"``: what the network returns (deblurrers "image"; colorizers
      ab in Lab units, or 313-bin logits from ``module.logits`` that the engine decodes).
    color_space: "rgb" (deblur) or "lab" (colorize; see restore_cli.color).
    work_size: colorizers run at this resolution (shorter side); deblurrers at full resolution (None).
    supports_half: False when fp16/bf16 give wrong results; the engine then runs fp32.
    inference_form: optional ``module -> module`` giving a faster module with the same outputs, for
      inference only (folded parameters, channels_last); see ``ModelDescriptor.inference_module``.
    detect: optional ``state -> bool``: whether an upstream state dict (keys -> anything with a ``shape``)
      has this architecture's key layout. Architectures with one can be imported.
    hyper_from_state: ``state -> dict``, the hyperparameters the tensor shapes determine (only those).
    convert_state: ``state -> state``, upstream keys made ours before ``hyper_from_state`` (default: as is).
    import_meta: metadata recorded with imported weights (e.g. the inference settings upstream uses).

    In-channel counts and the Laplacian channel are read from the ``in_channels`` and ``laplacian``
    hyperparameters (deblurrers; 3 and False when absent); colorizers take 1 channel.
    """

    id: str
    task: str
    build: Callable[..., Any]
    defaults: dict[str, Any]
    size_multiple_of: Callable[[Mapping[str, Any]], int]
    bytes_per_pixel_of: Callable[[Mapping[str, Any]], int]
    head_of: Callable[[Mapping[str, Any]], str] = _image_head
    color_space: str = "rgb"
    work_size: int | None = None
    supports_half: bool = True
    description: str = ""
    inference_form: Callable[[Any], Any] | None = None
    detect: Callable[[Mapping[str, Any]], bool] | None = None
    hyper_from_state: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    convert_state: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    import_meta: dict[str, Any] = field(default_factory=dict)

    def hyper(self, **overrides: Any) -> dict[str, Any]:
        """The full hyperparameters: the defaults with ``overrides`` (unknown names are refused)."""
        unknown = sorted(set(overrides) - set(self.defaults))
        if unknown:
            raise UnknownModelError(
                f"architecture {self.id!r} has no hyperparameter(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(self.defaults))}"
            )
        return {**self.defaults, **overrides}

    def size_multiple_for(self, hyper: Mapping[str, Any]) -> int:
        return int(self.size_multiple_of(hyper))

    def head_for(self, hyper: Mapping[str, Any]) -> str:
        return self.head_of(hyper)

    def in_channels_for(self, hyper: Mapping[str, Any]) -> int:
        return 1 if self.task == "colorize" else int(hyper.get("in_channels", 3))

    def task_for(self, hyper: Mapping[str, Any]) -> str:
        """The weights task: ``deblur-gray`` for a one-channel deblurring model, else the spec's task."""
        return "deblur-gray" if self.task == "deblur" and self.in_channels_for(hyper) == 1 else self.task

    @property
    def importable(self) -> bool:
        return self.detect is not None and self.hyper_from_state is not None


_REGISTRY: dict[str, ArchSpec] = {}
_loaded = False


def register(spec: ArchSpec) -> ArchSpec:
    """Add an architecture to the registry (called at import time by each architecture module)."""
    if spec.id in _REGISTRY and _REGISTRY[spec.id] is not spec:
        raise ValueError(f"architecture {spec.id!r} registered twice")
    if spec.task not in TASKS:
        raise ValueError(f"architecture {spec.id!r}: task must be one of {TASKS}, not {spec.task!r}")
    if (spec.detect is None) != (spec.hyper_from_state is None):
        raise ValueError(f"architecture {spec.id!r}: detect and hyper_from_state come together")
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


def importable_archs() -> list[str]:
    """Ids of the architectures with a detector, in the order the detectors are tried."""
    _load_all()
    return [k for k, v in _REGISTRY.items() if v.importable]


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


__all__ = ["ArchSpec", "create_model", "get_arch", "importable_archs", "list_archs", "register"]
