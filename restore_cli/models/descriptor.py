"""A built model with what callers need to run it: the one forward path from an input tensor to an output.

:class:`ModelDescriptor` is what ``weights.load_model`` returns and what ``weights import`` builds (after
spandrel's ``ImageModelDescriptor``). Its fields are derived once from the architecture's spec and the
hyperparameters (:meth:`ModelDescriptor.describe`); callers ask them and never the module's class or
attributes. Calling it pads the input to the size multiple, runs the inference form under
``torch.inference_mode``, crops back and clamps images to [0, 1]: the engine runs every tile through it and
training validation runs through it, so the numbers of ``restore bench`` and of validation mean the same.

torch is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restore_cli.models import ArchSpec

NUM_BINS = 313  # restore_cli.color.NUM_BINS, the width of a "bins" head (color imports torch)


@dataclass
class ModelDescriptor:
    """A model in eval mode plus what callers need to run it.

    ``task``: "deblur", "deblur-gray" (one-channel deblurring) or "colorize". ``in_channels``: channels of
    the input (3 RGB or 1 gray; colorizers 1, L); a Laplacian channel (``laplacian``) is computed inside the
    model and not counted. ``out_channels``: channels of what :meth:`__call__` returns (the image's, 2 for
    ab, 313 for bin logits). ``head``: "image", "ab" or "bins". ``bytes_per_pixel``: activation memory per
    input pixel, a rough estimate for choosing tile sizes. ``work_size``: the shorter side colorizers run at.
    ``module`` is the trained form (its state dict is the file's); ``spec``, ``arch``, ``hyper``,
    ``metadata``, ``path``, ``sha256`` and ``name`` say where it came from (empty for a bare module).
    """

    module: Any
    task: str
    in_channels: int
    out_channels: int
    size_multiple: int = 1
    head: str = "image"
    supports_half: bool = True
    laplacian: bool = False
    work_size: int | None = None
    bytes_per_pixel: int = 4 * 32 * 24
    spec: ArchSpec | None = None
    arch: str = ""
    hyper: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    sha256: str = ""
    name: str | None = None
    _inference: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def describe(
        cls,
        module: Any,
        spec: ArchSpec,
        hyper: dict[str, Any],
        *,
        metadata: dict[str, Any] | None = None,
        path: Path | None = None,
        sha256: str = "",
        name: str | None = None,
    ) -> ModelDescriptor:
        """The descriptor of ``module``, built by ``spec`` from ``hyper`` (every field derived here, once)."""
        in_channels = spec.in_channels_for(hyper)
        head = spec.head_for(hyper)
        out_channels = {"image": in_channels, "ab": 2, "bins": NUM_BINS}[head]
        return cls(
            module=module,
            task=spec.task_for(hyper),
            in_channels=in_channels,
            out_channels=out_channels,
            size_multiple=spec.size_multiple_for(hyper),
            head=head,
            supports_half=spec.supports_half,
            laplacian=bool(hyper.get("laplacian", False)),
            work_size=spec.work_size,
            bytes_per_pixel=int(spec.bytes_per_pixel_of(hyper)),
            spec=spec,
            arch=spec.id,
            hyper=dict(hyper),
            metadata=dict(metadata or {}),
            path=path,
            sha256=sha256,
            name=name,
        )

    @property
    def label(self) -> str:
        """How messages name this model: its manifest name, else its file, else its architecture."""
        return str(self.name or self.path or self.arch or "model")

    def to(self, device: Any) -> ModelDescriptor:
        """Move the module to ``device`` (in place, when not there already) and put it in eval mode."""
        first = next(self.module.parameters(), None)
        if first is not None and first.device != device:
            self.module.to(device)
        if self.module.training:
            self.module.eval()
        return self

    def inference_module(self) -> Any:
        """The architecture's inference form of ``module`` (same outputs, faster), or ``module`` itself.

        Made on first use and remade when a parameter or buffer of ``module`` has changed since (torch
        tracks in-place changes made under ``no_grad``, ``load_state_dict`` and moves; not edits through
        ``.data``, which bypass its version counters).
        """
        make = self.spec.inference_form if self.spec is not None else None
        if make is None:
            return self.module
        key = _state_key(self.module)
        if self._inference is None or self._inference[0] != key:
            with one_thread():
                self._inference = (key, make(self.module))
        return self._inference[1]

    def __call__(self, x: Any) -> Any:
        """Run ``x`` (``N x in_channels x H x W``, on the module's device) through the model.

        The input is reflect-padded at the bottom and right to the size multiple (as numpy's "reflect",
        repeated for pads longer than the image; "edge" when a side is 1 pixel), the output cropped back
        (proportionally, for heads at a lower resolution), and images clamped to [0, 1]. Colorizers return
        their raw head: ab in Lab units or 313-bin logits (decoded by ``restore_cli.color.decode_bins``).
        Runs under ``torch.inference_mode`` in the caller's autocast, if any.
        """
        import torch

        h, w = x.shape[-2:]
        padded = pad_to_multiple(x, self.size_multiple)
        module = self.inference_module()
        run = module.logits if self.head == "bins" else module
        with torch.inference_mode():
            out = run(padded)
            ph, pw = padded.shape[-2:]
            oh, ow = out.shape[-2:]
            out = out[..., : max(1, round(h * oh / ph)), : max(1, round(w * ow / pw))]
            if self.head == "image":
                out = out.clamp(0.0, 1.0)
        return out


def pad_to_multiple(x: Any, multiple: int) -> Any:
    """Pad an ``N x C x H x W`` tensor at the bottom and right to multiples of ``multiple``.

    Reflection as numpy's ``np.pad(mode="reflect")``: a pad longer than the image reflects again (torch
    reflects at most ``size - 1`` pixels at a time, so it pads in steps). A 1-pixel side can only repeat,
    so such an image is edge-padded on both axes.
    """
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if h == 1 or w == 1:
        return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
    while ph or pw:
        step_h, step_w = min(ph, x.shape[-2] - 1), min(pw, x.shape[-1] - 1)
        x = F.pad(x, (0, step_w, 0, step_h), mode="reflect")
        ph, pw = ph - step_h, pw - step_w
    return x


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Torch's CPU operations on one thread inside the block; the thread count is restored after it.

    Building a model, loading its tensors and making its inference form are hundreds of small operations
    (initialisation, casts, finiteness checks, copies, folds). Split over several threads, each waits until
    every thread has been scheduled, so other busy processes on a 2-core machine made them 5-20x slower:
    with two CPU-bound processes running, the finiteness checks of the default model's tensors took 0.28 s
    at 2 threads and 0.01 s at 1, making its inference form 0.23 s and 0.01 s. Idle, one thread is as fast.
    Values do not depend on it (the folded weights of every shipped inference form were checked bitwise
    equal at 1 and 2 threads). The count is process-wide: another Python thread running a model meanwhile
    also gets one thread.
    """
    import torch

    threads = torch.get_num_threads()
    if threads > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads > 1:
            torch.set_num_threads(threads)


def _state_key(module: Any) -> tuple:
    """Identity and version of every parameter and buffer: changes when any of them is changed."""
    tensors = [*module.parameters(), *module.buffers()]
    return tuple((t.data_ptr(), t._version, str(t.device), t.dtype) for t in tensors)


__all__ = ["ModelDescriptor", "one_thread", "pad_to_multiple"]
