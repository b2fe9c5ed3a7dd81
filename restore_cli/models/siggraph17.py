"""Zhang et al., "Real-Time User-Guided Image Colorization" (SIGGRAPH 2017), used as an automatic colorizer.

Parameter names follow the official PyTorch port (richzhang/colorization, ``SIGGRAPHGenerator``). The input
has 4 channels: L, the ab hints (/110) and the hint mask. ``model1`` .. ``model7`` are conv/ReLU stacks
ending in BatchNorm; downsampling is a strided slice (``x[:, :, ::2, ::2]``) before ``model2``, ``model3``
and ``model4`` rather than a strided conv. The decoder adds up-convs to shortcut convs of the encoder
(``model8up`` + ``model3short8``, ``model9up`` + ``model2short9``, ``model10up`` + ``model1short10``).
``model_out`` (1x1 conv then tanh) x 110 gives ab at full resolution. ``model_class`` (the 529-class
auxiliary head of the paper) is kept so official weights load strictly, but it plays no part in ``forward``.

Called as an automatic colorizer (``forward(l)``) it gets zero hints and an all-zero mask, as the official
port does when no hints are given; ``forward_with_hints`` exposes the interactive inputs. ``width`` scales
every layer's width (1.0 = the official sizes).
"""

from __future__ import annotations

import torch
from torch import nn

from restore_cli.models import ArchSpec, register
from restore_cli.models.common import conv_relu_stack

AB_SCALE = 110.0


class SIGGRAPH17Colorizer(nn.Module):
    """``forward((L - 50) / 100)`` (``N x 1 x H x W``, sides multiples of 8) -> ab ``N x 2 x H x W``."""

    head = "ab"

    def __init__(self, width: float = 1.0, classes: int = 529) -> None:
        super().__init__()
        c1, c2, c3, c4 = (max(1, round(c * width)) for c in (64, 128, 256, 512))
        self.model1 = conv_relu_stack([4, c1, c1])
        self.model2 = conv_relu_stack([c1, c2, c2])
        self.model3 = conv_relu_stack([c2, c3, c3, c3])
        self.model4 = conv_relu_stack([c3, c4, c4, c4])
        self.model5 = conv_relu_stack([c4, c4, c4, c4], dilation=2)
        self.model6 = conv_relu_stack([c4, c4, c4, c4], dilation=2)
        self.model7 = conv_relu_stack([c4, c4, c4, c4])
        self.model8up = nn.Sequential(nn.ConvTranspose2d(c4, c3, 4, stride=2, padding=1))
        self.model3short8 = nn.Sequential(nn.Conv2d(c3, c3, 3, padding=1))
        self.model8 = nn.Sequential(nn.ReLU(True), *conv_relu_stack([c3, c3, c3]))
        self.model9up = nn.Sequential(nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1))
        self.model2short9 = nn.Sequential(nn.Conv2d(c2, c2, 3, padding=1))
        self.model9 = nn.Sequential(nn.ReLU(True), *conv_relu_stack([c2, c2]))
        self.model10up = nn.Sequential(nn.ConvTranspose2d(c2, c2, 4, stride=2, padding=1))
        self.model1short10 = nn.Sequential(nn.Conv2d(c1, c2, 3, padding=1))
        self.model10 = nn.Sequential(nn.ReLU(True), nn.Conv2d(c2, c2, 3, padding=1), nn.LeakyReLU(0.2))
        self.model_class = nn.Sequential(nn.Conv2d(c3, classes, 1))
        self.model_out = nn.Sequential(nn.Conv2d(c2, 2, 1), nn.Tanh())

    def forward_with_hints(
        self, l_norm: torch.Tensor, ab_hints: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Colorize with hints: ab ``N x 2 x H x W`` in Lab units, ``mask`` ``N x 1 x H x W`` (1 at hints)."""
        conv1 = self.model1(torch.cat([l_norm, ab_hints / AB_SCALE, mask], 1))
        conv2 = self.model2(conv1[:, :, ::2, ::2])
        conv3 = self.model3(conv2[:, :, ::2, ::2])
        x = self.model4(conv3[:, :, ::2, ::2])
        x = self.model7(self.model6(self.model5(x)))
        x = self.model8(self.model8up(x) + self.model3short8(conv3))
        x = self.model9(self.model9up(x) + self.model2short9(conv2))
        x = self.model10(self.model10up(x) + self.model1short10(conv1))
        return self.model_out(x) * AB_SCALE

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        n, _, h, w = l_norm.shape
        hints = l_norm.new_zeros(n, 2, h, w)
        return self.forward_with_hints(l_norm, hints, l_norm.new_zeros(n, 1, h, w))


def _build(width: float, classes: int) -> SIGGRAPH17Colorizer:
    return SIGGRAPH17Colorizer(width=float(width), classes=classes)


def detect(state) -> bool:
    """The official port's keys: a 4-channel first conv (L, ab hints, mask) and ``model_out``."""
    first = state.get("model1.0.weight")
    return first is not None and first.shape[1] == 4 and "model_out.0.weight" in state


def hyper_from_state(state) -> dict:
    """``width``: the first conv's channels over the official 64; ``classes``: the auxiliary head's."""
    hyper: dict = {"width": int(state["model1.0.weight"].shape[0]) / 64}
    if "model_class.0.weight" in state:
        hyper["classes"] = int(state["model_class.0.weight"].shape[0])
    return hyper


register(
    ArchSpec(
        id="siggraph17",
        task="colorize",
        build=_build,
        color_space="lab",
        work_size=256,
        defaults={"width": 1.0, "classes": 529},
        size_multiple_of=lambda hyper: 8,  # three strided slices
        bytes_per_pixel_of=lambda hyper: 4 * 24 * max(1, round(64 * float(hyper["width"]))),
        head_of=lambda hyper: "ab",
        detect=detect,
        hyper_from_state=hyper_from_state,
        description="Zhang et al. SIGGRAPH 2017 user-guided colorizer, run without hints, tanh x 110",
    )
)
