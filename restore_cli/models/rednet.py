"""REDNet (Mao et al. 2016): a residual encoder-decoder of plain convolutions and transposed convolutions.

REDNet30 has 15 3x3 convs and 15 3x3 transposed convs at full resolution. Every second encoder output is added
to the output of its mirror decoder layer (then ReLU), and the last decoder layer's output is added to the
input image, so the network learns the residual. Keys: ``convs.i.*`` and ``deconvs.i.*``.
"""

from __future__ import annotations

import torch
from torch import nn

from restore_cli.models import ArchSpec, register


class REDNet(nn.Module):
    """Image in [0, 1] (``N x in_channels x H x W``, any size) -> restored image, same shape, not clamped."""

    def __init__(self, in_channels: int = 3, width: int = 64, depth: int = 15) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError("depth must be at least 2")
        self.depth = depth
        self.convs = nn.ModuleList(
            [nn.Conv2d(in_channels if i == 0 else width, width, 3, padding=1) for i in range(depth)]
        )
        self.deconvs = nn.ModuleList(
            [
                nn.ConvTranspose2d(width, in_channels if j == depth - 1 else width, 3, padding=1)
                for j in range(depth)
            ]
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]  # feats[i] is the output of encoder layer i (feats[0]: the input)
        h = x
        for conv in self.convs:
            h = self.relu(conv(h))
            feats.append(h)
        for j, deconv in enumerate(self.deconvs, start=1):
            h = deconv(h)
            mirror = self.depth - j  # the encoder output with this layer's shape
            if j == self.depth:
                return h + x
            if mirror % 2 == 0:
                h = h + feats[mirror]
            h = self.relu(h)
        raise AssertionError("unreachable")


def _build(in_channels: int, width: int, depth: int) -> REDNet:
    return REDNet(in_channels, width, depth)


register(
    ArchSpec(
        id="rednet30",
        task="deblur",
        build=_build,
        defaults={"in_channels": 3, "width": 64, "depth": 15},
        size_multiple_of=lambda hyper: 1,  # every layer at full resolution
        bytes_per_pixel_of=lambda hyper: 4 * 24 * int(hyper["width"]),
        description="REDNet30: 15 convs + 15 deconvs with symmetric skips, residual to the input",
    )
)
