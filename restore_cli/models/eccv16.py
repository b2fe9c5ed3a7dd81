"""Zhang et al., "Colorful Image Colorization" (ECCV 2016): L in, a distribution over 313 ab bins out.

Parameter names follow the official PyTorch port (richzhang/colorization, ``ECCVGenerator``): ``model1`` ..
``model7`` are conv/ReLU stacks ending in BatchNorm (strided convs end blocks 1-3, blocks 5 and 6 are
dilated), ``model8`` is a 4x4 transposed conv, two 3x3 convs and ``model8.6``, the 1x1 conv to 313 class
logits at 1/4 of the input resolution; ``model_out`` is a 1x1 conv without bias, 313 -> 2, holding the bin
centres / 110.

Difference from the official port: its forward decodes with the plain mean (softmax, ``model_out``, x110,
bilinear x4), which gives washed-out colours. Ours decodes with the annealed mean at T = 0.38, as the paper
does, and returns ab at 1/4 resolution (callers resize). ``plain_mean`` keeps the official decoding.
``width`` scales every layer's width (1.0 = the official sizes) so tests can use tiny versions.
"""

from __future__ import annotations

import torch
from torch import nn

from restore_cli.color import NUM_BINS, ab_bins, annealed_mean
from restore_cli.models import ArchSpec, register
from restore_cli.models.common import conv_relu_stack

AB_SCALE = 110.0
ANNEAL_T = 0.38


class ECCV16Colorizer(nn.Module):
    """``forward((L - 50) / 100)`` (``N x 1 x H x W``, sides multiples of 8) -> ab ``N x 2 x H/4 x W/4``."""

    head = "bins"

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()
        c1, c2, c3, c4 = (max(1, round(c * width)) for c in (64, 128, 256, 512))
        self.model1 = conv_relu_stack([1, c1, c1], last_stride=2)
        self.model2 = conv_relu_stack([c1, c2, c2], last_stride=2)
        self.model3 = conv_relu_stack([c2, c3, c3, c3], last_stride=2)
        self.model4 = conv_relu_stack([c3, c4, c4, c4])
        self.model5 = conv_relu_stack([c4, c4, c4, c4], dilation=2)
        self.model6 = conv_relu_stack([c4, c4, c4, c4], dilation=2)
        self.model7 = conv_relu_stack([c4, c4, c4, c4])
        self.model8 = nn.Sequential(
            nn.ConvTranspose2d(c4, c3, 4, stride=2, padding=1),
            nn.ReLU(True),
            *conv_relu_stack([c3, c3, c3], norm=False),
            nn.Conv2d(c3, NUM_BINS, 1),
        )
        self.model_out = nn.Conv2d(NUM_BINS, 2, 1, bias=False)
        with torch.no_grad():
            self.model_out.weight.copy_((ab_bins() / AB_SCALE).t().reshape(2, NUM_BINS, 1, 1))
        self.register_buffer("bins", ab_bins(), persistent=False)

    def logits(self, l_norm: torch.Tensor) -> torch.Tensor:
        """313-class logits ``N x 313 x H/4 x W/4`` (the classification loss is computed on these)."""
        x = l_norm
        for block in (self.model1, self.model2, self.model3, self.model4, self.model5, self.model6):
            x = block(x)
        return self.model8(self.model7(x))

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        logits = self.logits(l_norm)
        return annealed_mean(logits, self.bins.to(logits.dtype), T=ANNEAL_T)

    def plain_mean(self, l_norm: torch.Tensor) -> torch.Tensor:
        """The official port's decoding: ``model_out(softmax(logits)) * 110`` (at 1/4 resolution)."""
        return self.model_out(torch.softmax(self.logits(l_norm), 1)) * AB_SCALE


def _build(width: float) -> ECCV16Colorizer:
    return ECCV16Colorizer(width=float(width))


def detect(state) -> bool:
    """The official port's keys: a one-channel first conv ``model1.0`` and the 313-bin ``model8.6``."""
    first, head = state.get("model1.0.weight"), state.get("model8.6.weight")
    return first is not None and head is not None and first.shape[1] == 1 and head.shape[0] == 313


def hyper_from_state(state) -> dict:
    """``width``: the first conv's channels over the official 64."""
    return {"width": int(state["model1.0.weight"].shape[0]) / 64}


register(
    ArchSpec(
        id="eccv16",
        task="colorize",
        build=_build,
        color_space="lab",
        work_size=256,
        defaults={"width": 1.0},
        size_multiple_of=lambda hyper: 8,  # three stride-2 convs
        bytes_per_pixel_of=lambda hyper: 4 * 24 * max(1, round(64 * float(hyper["width"]))),
        head_of=lambda hyper: "bins",
        detect=detect,
        hyper_from_state=hyper_from_state,
        description="Zhang et al. ECCV 2016: 313-bin classification, annealed-mean decoding (T=0.38)",
    )
)
