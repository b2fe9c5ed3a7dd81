"""A multi-scale coarse-to-fine deblurring generator (after Nah et al. 2017, "Deep Multi-scale CNN").

The blurred image is reduced to a pyramid of ``scales`` levels (2x2 average pooling per level). Each level has
its own network (``levels.k``, coarse to fine): it sees the blurred image at its scale concatenated with the
coarser level's estimate upsampled x2 (the coarsest level sees the blurred image twice), runs a conv, residual
blocks and a conv, and adds its blurred input back. ``forward_pyramid`` returns every level's estimate for the
multi-scale content loss; compare them with ``image_pyramid(sharp, scales)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from restore_cli.models import ArchSpec, register


def image_pyramid(x: torch.Tensor, scales: int) -> list[torch.Tensor]:
    """``x`` at 1/2**(scales-1), ..., 1/2, 1 (coarse to fine) by repeated 2x2 average pooling."""
    levels = [x]
    for _ in range(scales - 1):
        levels.append(F.avg_pool2d(levels[-1], 2))
    return levels[::-1]


class ResBlock(nn.Module):
    """conv 3x3, ReLU, conv 3x3, plus the identity (no normalisation, as in Nah et al.)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1), nn.ReLU(True), nn.Conv2d(width, width, 3, padding=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ScaleNet(nn.Module):
    """One pyramid level: (blurred, coarser estimate) -> sharper estimate at this scale."""

    def __init__(self, in_channels: int, width: int, n_blocks: int) -> None:
        super().__init__()
        self.head = nn.Conv2d(2 * in_channels, width, 5, padding=2)
        self.blocks = nn.Sequential(*[ResBlock(width) for _ in range(n_blocks)])
        self.tail = nn.Conv2d(width, in_channels, 5, padding=2)

    def forward(self, blurred: torch.Tensor, coarser: torch.Tensor) -> torch.Tensor:
        return blurred + self.tail(self.blocks(self.head(torch.cat([blurred, coarser], 1))))


class MultiScaleDeblur(nn.Module):
    """Image in [0, 1] (``N x C x H x W``, sides multiples of ``2**(scales-1)``) -> restored image."""

    def __init__(self, in_channels: int = 3, width: int = 32, n_blocks: int = 4, scales: int = 3) -> None:
        super().__init__()
        if scales < 1:
            raise ValueError("scales must be at least 1")
        self.scales = scales
        self.levels = nn.ModuleList([ScaleNet(in_channels, width, n_blocks) for _ in range(scales)])

    def forward_pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Estimates at every scale, coarse to fine (the last one is full resolution)."""
        outputs: list[torch.Tensor] = []
        for level, blurred in zip(self.levels, image_pyramid(x, self.scales)):
            if outputs:
                coarser = F.interpolate(
                    outputs[-1], size=blurred.shape[-2:], mode="bilinear", align_corners=False
                )
            else:
                coarser = blurred
            outputs.append(level(blurred, coarser))
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_pyramid(x)[-1]


def _build(in_channels: int, width: int, n_blocks: int, scales: int) -> MultiScaleDeblur:
    return MultiScaleDeblur(in_channels, width, n_blocks, scales)


register(
    ArchSpec(
        id="msdeblur",
        task="deblur",
        build=_build,
        defaults={"in_channels": 3, "width": 32, "n_blocks": 4, "scales": 3},
        # the pyramid halves the image scales - 1 times
        size_multiple_of=lambda hyper: 2 ** (int(hyper["scales"]) - 1),
        bytes_per_pixel_of=lambda hyper: 4 * 24 * int(hyper["width"]),
        description="Multi-scale coarse-to-fine generator (3 scales, multi-scale content loss)",
    )
)
