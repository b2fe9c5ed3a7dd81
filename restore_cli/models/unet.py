"""A pix2pix-style U-Net colorizer (Isola et al. 2017): L in, ab out, at the resolution it is given.

Encoder: 4x4 stride-2 convs with LeakyReLU(0.2); decoder: 4x4 stride-2 transposed convs with ReLU, each
joined with the mirror encoder level by concatenation. Widths double per level up to 8x ``base``. Two heads:
``"ab"`` regresses ab directly (tanh x 110, trained with L1 and optionally a GAN, as pix2pix), ``"bins"``
gives 313-class logits decoded by ``restore_cli.color.decode_bins`` (annealed mean with a confidence pull
toward neutral; trained with the classification loss of Zhang et al.).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from restore_cli.color import NUM_BINS, ab_bins, decode_bins
from restore_cli.models import ArchSpec, register
from restore_cli.models.common import fold_output_scale

AB_SCALE = 110.0
HEADS = ("ab", "bins")
NORMS = ("batch", "instance", "none")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


class UNetColorizer(nn.Module):
    """``forward((L - 50) / 100)`` (``N x 1 x H x W``, sides multiples of ``2**depth``) -> ab in Lab units."""

    def __init__(
        self,
        base: int = 16,
        depth: int = 6,
        head: str = "ab",
        norm: str = "batch",
        dropout: float = 0.0,
        max_mult: int = 8,
    ) -> None:
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if depth < 2 or (head == "bins" and depth < 3):
            raise ValueError("depth must be at least 2 (3 with the 313-bin head)")
        self.head = head
        widths = [base * min(2**i, max_mult) for i in range(depth)]
        bias = norm != "batch"
        self.downs = nn.ModuleList()
        for i, width in enumerate(widths):
            layers: list[nn.Module] = []
            if i > 0:
                layers.append(nn.LeakyReLU(0.2))
            layers.append(nn.Conv2d(widths[i - 1] if i else 1, width, 4, stride=2, padding=1, bias=bias))
            if 0 < i < depth - 1:  # no norm on the first layer (as pix2pix) nor at the 1x1-ish bottleneck
                layers.append(_norm(norm, width))
            self.downs.append(nn.Sequential(*layers))
        # ups[i] brings level depth-1-i back to level depth-2-i; all but the innermost see a concatenation
        self.ups = nn.ModuleList()
        for i in range(depth - 1):
            level = depth - 1 - i
            in_ch = widths[level] * (1 if i == 0 else 2)
            out_ch = widths[level - 1]
            layers = [
                nn.ReLU(),
                nn.ConvTranspose2d(in_ch, out_ch, 4, stride=2, padding=1, bias=bias),
                _norm(norm, out_ch),
            ]
            if dropout > 0 and i < 3:
                layers.append(nn.Dropout(dropout))
            self.ups.append(nn.Sequential(*layers))
        if head == "ab":
            self.out = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(2 * widths[0], 2, 4, stride=2, padding=1))
        else:
            # Like ECCV16, the 313-bin head predicts at a quarter of the resolution (colour is low-frequency):
            # a 1x1 conv on the 1/4-resolution decoder features, so the last decoder level is not built.
            # A full-resolution 313-channel transposed conv would cost ~40k MACs per pixel for nothing.
            self.ups = self.ups[: depth - 2]
            self.out = nn.Sequential(nn.ReLU(), nn.Conv2d(2 * widths[1], NUM_BINS, 1))
        self.register_buffer("bins", ab_bins(), persistent=False)

    def _features(self, l_norm: torch.Tensor) -> torch.Tensor:
        skips = []
        x = l_norm
        for down in self.downs:
            x = down(x)
            skips.append(x)
        skips.pop()  # the innermost level has no partner
        for up in self.ups:
            x = torch.cat([up(x), skips.pop()], 1)
        return self.out(x)  # "ab": full resolution; "bins": 1/4 resolution (the ups stop at level 1)

    def logits(self, l_norm: torch.Tensor) -> torch.Tensor:
        """313-class logits ``N x 313 x H/4 x W/4`` (``head="bins"`` only)."""
        if self.head != "bins":
            raise RuntimeError("logits() needs a U-Net built with head='bins'")
        return self._features(l_norm)

    def forward(self, l_norm: torch.Tensor) -> torch.Tensor:
        out = self._features(l_norm)
        if self.head == "ab":
            return torch.tanh(out) * AB_SCALE
        return decode_bins(out, self.bins)[0]  # the inference decoding, so validation measures it


def _fold_batch_norms(seq: nn.Sequential) -> nn.Sequential:
    """``seq`` with each eval-mode BatchNorm2d folded into the (transposed) convolution before it."""
    layers: list[nn.Module] = []
    for layer in seq:
        conv_before = bool(layers) and isinstance(layers[-1], (nn.Conv2d, nn.ConvTranspose2d))
        if isinstance(layer, nn.BatchNorm2d) and conv_before:
            scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)
            layers[-1] = fold_output_scale(layers[-1], scale, layer.bias - layer.running_mean * scale)
        elif not isinstance(layer, nn.Dropout):
            layers.append(layer)
    return nn.Sequential(*layers)


def inference_form(model: UNetColorizer) -> nn.Module:
    """A copy of ``model`` for inference only, batch norms folded into their convolutions (same outputs)."""
    fast = copy.deepcopy(model).eval()
    with torch.no_grad():
        for blocks in (fast.downs, fast.ups):
            for i, seq in enumerate(blocks):
                blocks[i] = _fold_batch_norms(seq)
    return fast.requires_grad_(False)


def _build(base: int, depth: int, head: str, norm: str, dropout: float) -> UNetColorizer:
    return UNetColorizer(base=base, depth=depth, head=head, norm=norm, dropout=dropout)


register(
    ArchSpec(
        id="unet",
        task="colorize",
        build=_build,
        color_space="lab",
        work_size=256,
        defaults={"base": 16, "depth": 6, "head": "ab", "norm": "batch", "dropout": 0.0},
        size_multiple_of=lambda hyper: 2 ** int(hyper["depth"]),  # one stride-2 conv per level
        bytes_per_pixel_of=lambda hyper: 4 * 24 * int(hyper["base"]),
        head_of=lambda hyper: hyper["head"],
        description="pix2pix-style U-Net colorizer: L in, ab out (regression or 313-bin head)",
        inference_form=inference_form,
    )
)
