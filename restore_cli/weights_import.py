"""Import upstream PyTorch checkpoints (NAFNet, DeblurGAN, ECCV16 / SIGGRAPH17 colorizers) as restore weights.

This is the only place that reads pickle, and it does so with ``torch.load(weights_only=True)`` and no
fallback: a checkpoint that needs anything beyond tensors and plain containers is refused, so code hidden
in a file never runs. The state dict is unwrapped from the usual containers, the architecture and its
hyperparameters are worked out from key names and tensor shapes (nothing is parsed from file names), keys
are mapped to ours, every shape is validated by building our model and loading strictly, and the result is
written as safetensors with metadata into the user weights folder and its manifest.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restore_cli.errors import BadWeightsError, UnknownModelError, UsageError
from restore_cli.weights import (
    WeightsEntry,
    add_user_weights,
    check_name,
    encode_weights,
    parse_header,
    sha256_file,
)

if TYPE_CHECKING:
    from restore_cli.models.descriptor import ModelDescriptor

CONTAINER_KEYS = ("params_ema", "params", "state_dict", "model_state_dict", "model", "netG", "generator", "G")
MAX_VALUES = 1_000_000_000
"""More parameters than this (4 GB as float32) is refused: the largest importable model has about 34 M."""


@dataclass
class Converted:
    """An upstream state dict turned into one of our architectures, ready to validate and save."""

    arch: str
    hyper: dict[str, Any]
    state: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------------------
# Reading and unwrapping
# ----------------------------------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def read_checkpoint(path: Path) -> Any:
    """The checkpoint's content, read safely: safetensors directly, anything else with weights_only pickle."""
    import torch

    if not path.is_file():
        raise BadWeightsError("checkpoint not found; check the path", path)
    if path.suffix.lower() == ".safetensors":
        from safetensors.torch import load

        data = path.read_bytes()
        parse_header(data, path)
        return load(data)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise BadWeightsError(
            f"refused: the checkpoint needs more than tensors to load, and only weights-only checkpoints are "
            f"read ({_first_line(exc)}); load it in its own project and re-save its state_dict",
            path,
        ) from None
    except Exception as exc:  # noqa: BLE001 - the weights-only reader fails in many ways on damaged files
        raise BadWeightsError(
            f"cannot read checkpoint ({_first_line(exc)}); is it a PyTorch .pth file?", path
        ) from None


def _is_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


def unwrap_state_dict(obj: Any, path: Path) -> dict[str, Any]:
    """Find the tensor dict inside the usual containers and strip ``module.`` (DataParallel) prefixes."""
    for _ in range(6):
        if not isinstance(obj, Mapping):
            break
        if obj and all(_is_tensor(v) for v in obj.values()):
            break
        inner = next((obj[k] for k in CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping):
        raise BadWeightsError(f"no state dict found (the checkpoint holds a {type(obj).__name__})", path)
    state: dict[str, Any] = {}
    for key, value in obj.items():
        if not _is_tensor(value):
            continue
        key = str(key)
        while key.startswith("module."):
            key = key[len("module.") :]
        state[key] = value
    if not state:
        keys = ", ".join(list(map(str, obj))[:8])
        raise BadWeightsError(f"no tensors found in the checkpoint (top-level keys: {keys})", path)
    return state


# ----------------------------------------------------------------------------------------------------------
# Detection and conversion: each architecture's adapter lives beside its network (models/<arch>.py)
# ----------------------------------------------------------------------------------------------------------


def importable() -> list[str]:
    """Architectures that can be imported, in the order their detectors are tried (from the registry)."""
    from restore_cli.models import importable_archs

    return importable_archs()


def detect_arch(state: Mapping[str, Any]) -> str | None:
    """The id of the first architecture whose key layout ``state`` has, or None."""
    from restore_cli.models import get_arch

    return next((arch for arch in importable() if get_arch(arch).detect(state)), None)


def convert_state(arch: str, state: dict[str, Any]) -> Converted:
    """``state`` in our keys with the hyperparameters its shapes give (``arch`` must be importable)."""
    from restore_cli.models import get_arch

    spec = get_arch(arch)
    if spec.convert_state is not None:
        state = spec.convert_state(state)
    return Converted(arch, spec.hyper_from_state(state), dict(state), dict(spec.import_meta))


# ----------------------------------------------------------------------------------------------------------
# Validation against our model
# ----------------------------------------------------------------------------------------------------------


def _shape(t: Any) -> list[int]:
    return [int(d) for d in t.shape]


def _map_to_model(src: dict[str, Any], target: Mapping[str, Any], arch: str, path: Path) -> dict[str, Any]:
    """Rename ``src`` to our model's keys: same names, or (when only names differ) the same shapes in order.

    Upstream tensors our model does not need (fixed decoding heads) are dropped only when every other key
    matches by name.
    """
    if set(src) == set(target):
        mapped = dict(src)
    elif set(target) <= set(src) and all(k.startswith("model_out.") for k in set(src) - set(target)):
        mapped = {k: src[k] for k in target}
    elif len(src) == len(target) and all(
        _shape(a) == _shape(b) for a, b in zip(src.values(), target.values())
    ):
        mapped = dict(zip(target, src.values()))
    else:
        unexpected = [k for k in src if k not in target][:5]
        missing = [k for k in target if k not in src][:5]
        raise BadWeightsError(
            f"checkpoint keys do not fit architecture {arch!r}: unexpected {', '.join(unexpected) or '-'}; "
            f"missing {', '.join(missing) or '-'}; try another --arch or report the layout",
            path,
        )
    for key, tensor in target.items():
        if _shape(mapped[key]) != _shape(tensor):
            raise BadWeightsError(
                f"tensor {key!r} has shape {_shape(mapped[key])} but {arch!r} with the detected "
                f"hyperparameters needs {_shape(tensor)}",
                path,
            )
        if mapped[key].is_floating_point() != tensor.is_floating_point():
            raise BadWeightsError(
                f"tensor {key!r} has dtype {mapped[key].dtype}, expected {tensor.dtype}", path
            )
    return mapped


def check_tensors(state: Mapping[str, Any], path: Path) -> None:
    """Refuse tensors no honest checkpoint holds, before any shape is trusted to size a model.

    An empty dimension (a zero-width layer), more values than the file stores for the tensor (a stride-0
    view can claim [2000000, 3, 3, 3] in 108 bytes and make the model that is built from it allocate
    terabytes), or more than :data:`MAX_VALUES` values in all.
    """
    import torch

    total = 0
    for key, tensor in state.items():
        shape = _shape(tensor)
        if tensor.layout != torch.strided or tensor.is_quantized or tensor.device.type != "cpu":
            raise BadWeightsError(
                f"tensor {key!r} is not a plain dense tensor ({tensor.layout}, {tensor.dtype}); not usable",
                path,
            )
        if any(d == 0 for d in shape):
            raise BadWeightsError(f"tensor {key!r} has an empty dimension (shape {shape}); not usable", path)
        stored = tensor.untyped_storage().nbytes()
        if tensor.numel() * tensor.element_size() > stored:
            raise BadWeightsError(
                f"tensor {key!r} claims shape {shape} ({tensor.numel():,} values) but the file stores "
                f"only {stored:,} bytes for it: a crafted or damaged checkpoint, refused",
                path,
            )
        total += tensor.numel()
    if total > MAX_VALUES:
        raise BadWeightsError(f"holds {total:,} values, more than any model restore runs; refused", path)


def _build(converted: Converted, path: Path, *, meta: bool) -> Any:
    """Our model for ``converted`` (on the meta device: shapes only, nothing allocated)."""
    import contextlib
    import warnings

    import torch

    from restore_cli.models import create_model

    try:
        # torch warns about odd layer sizes while building; the shape checks report them to the user instead
        with warnings.catch_warnings(), torch.device("meta") if meta else contextlib.nullcontext():
            warnings.simplefilter("ignore", UserWarning)
            return create_model(converted.arch, **converted.hyper)
    except UnknownModelError:
        raise BadWeightsError(
            f"this version of restore has no {converted.arch!r} architecture to import into", path
        ) from None
    except (TypeError, ValueError, RuntimeError) as exc:
        raise BadWeightsError(
            f"cannot build {converted.arch!r} with {converted.hyper} ({_first_line(exc)})", path
        ) from None


def build_validated(converted: Converted, path: Path) -> Any:
    """Our model with the converted tensors loaded strictly (raises BadWeightsError on any mismatch).

    Every shape is compared with a model built on the meta device first, so hyperparameters read from a
    crafted tensor can never make the real build allocate more than the checkpoint itself holds.
    """
    import torch

    check_tensors(converted.state, path)
    target = _build(converted, path, meta=True).state_dict()
    mapped = _map_to_model(converted.state, target, converted.arch, path)
    module = _build(converted, path, meta=False)
    target = module.state_dict()
    state = {k: mapped[k].to(dtype=target[k].dtype).contiguous() for k in target}
    for key, tensor in state.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise BadWeightsError(f"tensor {key!r} contains NaN or infinite values", path)
    module.load_state_dict(state, strict=True)
    return module.eval()


# ----------------------------------------------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------------------------------------------


def _default_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-._") or "imported"
    return name[:100] if name[0].isalnum() else f"w{name}"[:100]


def convert_checkpoint(path: str | Path, *, arch: str = "auto") -> tuple[Converted, ModelDescriptor]:
    """Read, unwrap, detect and validate a checkpoint; returns the conversion and our model's descriptor."""
    from restore_cli.models import get_arch
    from restore_cli.models.descriptor import ModelDescriptor

    path = Path(path)
    archs = importable()
    if arch != "auto" and arch not in archs:
        raise UsageError(f"cannot import architecture {arch!r}; use auto or one of {', '.join(archs)}")
    state = unwrap_state_dict(read_checkpoint(path), path)
    if arch == "auto":
        detected = detect_arch(state)
        if detected is None:
            keys = ", ".join(list(state)[:6])
            raise BadWeightsError(
                f"unknown checkpoint layout (first keys: {keys}); importable: {', '.join(archs)}; "
                "pass --arch if you know it",
                path,
            )
        arch = detected
    try:
        converted = convert_state(arch, state)
    except (KeyError, IndexError, AttributeError) as exc:
        unexpected = ", ".join(list(state)[:6])
        raise BadWeightsError(
            f"not a {arch} checkpoint (missing {exc}); its first keys: {unexpected}", path
        ) from None
    spec = get_arch(arch)
    try:
        hyper = spec.hyper(**converted.hyper)
    except UnknownModelError as exc:  # an adapter returned a name its architecture lacks: our bug, said so
        raise BadWeightsError(f"cannot import as {arch!r}: {exc.message}", path) from None
    module = build_validated(converted, path)
    descriptor = ModelDescriptor.describe(module, spec, hyper, metadata=converted.meta, path=path)
    return converted, descriptor


def import_checkpoint(
    path: str | Path,
    *,
    arch: str = "auto",
    name: str | None = None,
    license: str | None = None,
    description: str | None = None,
    overwrite: bool = False,
) -> WeightsEntry:
    """Convert an upstream checkpoint into restore weights in the user folder and list it in its manifest."""
    path = Path(path)
    if name is not None:
        check_name(name)  # before anything touches the disk
    converted, model = convert_checkpoint(path, arch=arch)
    name = name or _default_name(path)
    meta: dict[str, Any] = {
        "name": name,
        "description": description or f"{converted.arch} imported from {path.name}",
        "source": {"file": path.name, "sha256": sha256_file(path)},
        **converted.meta,
    }
    if license:
        meta["license"] = license
    data = encode_weights(model.module, converted.arch, converted.hyper, meta=meta)
    return add_user_weights(
        data, name, description=meta["description"], license=license or "", overwrite=overwrite
    )


__all__ = [
    "CONTAINER_KEYS",
    "MAX_VALUES",
    "Converted",
    "check_tensors",
    "convert_checkpoint",
    "convert_state",
    "detect_arch",
    "import_checkpoint",
    "importable",
    "read_checkpoint",
    "unwrap_state_dict",
]
