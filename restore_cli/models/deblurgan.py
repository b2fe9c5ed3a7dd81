"""DeblurGAN's ResNet generator (Kupyn et al. 2018), with the 2018 release's parameter names.

Layout of ``self.model`` (a Sequential, so keys read ``model.N.*`` as upstream): reflection pad + 7x7 conv,
instance norm, ReLU (0-3); two stride-2 3x3 convs, each with norm and ReLU (4-9); ``n_blocks`` residual
blocks (10 ..), each ``conv_block`` = pad, 3x3 conv, norm, ReLU, dropout, pad, 3x3 conv, norm (convs at
``.1`` and ``.6``; with ``dropout`` 0 there is no dropout layer and the second conv is ``.5``, as upstream's
--no_dropout); two stride-2 transposed convs with output padding 1, norm, ReLU; reflection pad, 7x7 conv,
tanh. For ngf=64 and 9 blocks the convolutions sit at ``model.1``, ``4``, ``7``, ``10``-``18``, ``19``,
``22``, ``26``. Instance norm has no affine parameters and no running statistics, so it has no keys.

Upstream works on images in [-1, 1] and adds the input to the tanh output (``learn_residual``), clamped to
[-1, 1]. We keep that inside: ``forward`` takes and returns images in [0, 1]. With ``laplacian`` the first
conv sees a 4th (or 2nd, for gray) channel: ``restore_cli.models.common.laplacian`` of the [0, 1] input.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from restore_cli.models import ArchSpec, register
from restore_cli.models.common import laplacian

STALE_STAT_SUFFIXES = (".running_mean", ".running_var", ".num_batches_tracked")


def _instance_norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """Two reflection-padded 3x3 convs with instance norm (and dropout between them), plus the identity."""

    def __init__(self, dim: int, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            _instance_norm(dim),
            nn.ReLU(True),
        ]
        if dropout > 0:  # as upstream's use_dropout: without it the second conv moves from .6 to .5
            layers.append(nn.Dropout(dropout))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), _instance_norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class DeblurGANGenerator(nn.Module):
    """Image in [0, 1] (``N x in_channels x H x W``, H and W multiples of 4) -> restored image in [0, 1]."""

    def __init__(
        self,
        in_channels: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        laplacian: bool = False,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.laplacian = laplacian
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels + (1 if laplacian else 0), ngf, 7),
            _instance_norm(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            width = ngf * 2**i
            layers += [
                nn.Conv2d(width, width * 2, 3, stride=2, padding=1),
                _instance_norm(width * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4, dropout) for _ in range(n_blocks)]
        for i in range(2):
            width = ngf * 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(width, width // 2, 3, stride=2, padding=1, output_padding=1),
                _instance_norm(width // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, in_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        signed = x * 2.0 - 1.0  # upstream's [-1, 1] range
        net_in = torch.cat([signed, laplacian(x)], 1) if self.laplacian else signed  # Laplacian of [0, 1]
        out = torch.clamp(self.model(net_in) + signed, -1.0, 1.0)
        return (out + 1.0) * 0.5


def _build(in_channels: int, ngf: int, n_blocks: int, laplacian: bool, dropout: float) -> DeblurGANGenerator:
    return DeblurGANGenerator(in_channels, ngf, n_blocks, bool(laplacian), dropout)


def detect(state) -> bool:
    """Upstream's generator: a 7x7 first conv at ``model.1`` and residual blocks with ``conv_block``."""
    first = state.get("model.1.weight")
    return (
        first is not None
        and len(first.shape) == 4
        and tuple(first.shape[2:]) == (7, 7)
        and any(".conv_block." in k for k in state)
    )


def convert_state(state: dict) -> dict:
    """Drop running stats of layers without weights: old PyTorch saved them for non-affine InstanceNorm."""
    result = {}
    for key, value in state.items():
        if key.endswith(STALE_STAT_SUFFIXES) and f"{key.rsplit('.', 1)[0]}.weight" not in state:
            continue
        result[key] = value
    return result


def hyper_from_state(state) -> dict:
    """Width from the first conv, blocks from the ``conv_block`` keys, channels from the last conv.

    Only the presence of dropout shows in the keys (upstream's --no_dropout moves the second conv of each
    block from ``conv_block.6`` to ``.5``), not its rate, so ``dropout`` is given only when absent (0.0).
    """
    first = state["model.1.weight"].shape
    blocks = {int(k.split(".")[1]) for k in state if ".conv_block." in k}
    last_conv = max(
        (int(k.split(".")[1]) for k in state if re.fullmatch(r"model\.\d+\.weight", k)), default=1
    )
    out_channels = int(state[f"model.{last_conv}.weight"].shape[0])
    hyper = {
        "ngf": int(first[0]),
        "n_blocks": len(blocks),
        "in_channels": out_channels,
        # Our Laplacian-conditioned variant sees the image plus one Laplacian channel.
        "laplacian": int(first[1]) == out_channels + 1,
    }
    if not any(k.endswith(".conv_block.6.weight") for k in state):
        hyper["dropout"] = 0.0
    return hyper


register(
    ArchSpec(
        id="deblurgan",
        task="deblur",
        build=_build,
        defaults={"in_channels": 3, "ngf": 64, "n_blocks": 9, "laplacian": False, "dropout": 0.5},
        size_multiple_of=lambda hyper: 4,  # two stride-2 convs
        bytes_per_pixel_of=lambda hyper: 4 * 24 * int(hyper["ngf"]),
        detect=detect,
        hyper_from_state=hyper_from_state,
        convert_state=convert_state,
        description="DeblurGAN (2018) ResNet generator: 9 residual blocks, global residual, WGAN-GP trained",
    )
)
