"""NAFNet (Chen et al. 2022): a nonlinear-activation-free U-Net, the default deblurring architecture.

Parameter names follow the official implementation (``intro``, ``encoders.i.j``, ``downs``,
``middle_blks``, ``ups.i.0``, ``decoders``, ``ending``) so published checkpoints map one to one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from restore_cli.models import ArchSpec, register
from restore_cli.models.common import (
    ChannelsLast,
    Pointwise,
    channel_layer_norm,
    key_indices,
)


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel dimension of an NCHW tensor."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / torch.sqrt(var + self.eps)
        return y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class SimpleGate(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * b


def local_mean(x: torch.Tensor, window: int) -> torch.Tensor:
    """Mean over each full ``window`` x ``window`` neighbourhood, via an integral image, edge-replicated.

    Used by TLC (Chu et al. 2022): at inference on images larger than the training crops, channel attention
    pools over a local window matching the training statistics instead of the whole image. As upstream
    (``local_arch.AvgPool2d``), only windows that lie inside the image are averaged; the result is then
    replicate-padded back to the input size, so pixels near a border get the nearest full window's mean.
    """
    h, w = x.shape[-2:]
    kh, kw = min(window, h), min(window, w)
    if kh == h and kw == w:
        return x.mean((2, 3), keepdim=True)
    s = x.double().cumsum(2).cumsum(3)
    s = F.pad(s, (1, 0, 1, 0))
    total = s[..., kh:, kw:] - s[..., :-kh, kw:] - s[..., kh:, :-kw] + s[..., :-kh, :-kw]
    pad = ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2)
    return F.pad((total / (kh * kw)).to(x.dtype), pad, mode="replicate")


class ChannelPool(nn.Module):
    """Global average pool, or with TLC a local mean over ``window`` pixels of this level."""

    def __init__(self) -> None:
        super().__init__()
        self.window: int | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return local_mean(x, self.window) if self.window else x.mean((2, 3), keepdim=True)


class SimplifiedChannelAttention(nn.Sequential):
    """Pool then 1x1 conv, used as a per-channel scale; a Sequential so keys read ``sca.1.*`` as upstream."""

    def __init__(self, channels: int) -> None:
        super().__init__(ChannelPool(), nn.Conv2d(channels, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self[1](self[0](x))


class NAFBlock(nn.Module):
    def __init__(self, c: int, dw_expand: int = 2, ffn_expand: int = 2) -> None:
        super().__init__()
        dw = c * dw_expand
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.sca = SimplifiedChannelAttention(dw // 2)
        self.sg = SimpleGate()
        ffn = c * ffn_expand
        self.conv4 = nn.Conv2d(c, ffn, 1)
        self.conv5 = nn.Conv2d(ffn // 2, c, 1)
        self.norm1 = LayerNorm2d(c)
        self.norm2 = LayerNorm2d(c)
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.gamma = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(self.norm1(inp)))
        x = self.conv3(self.sca(self.sg(x)))
        y = inp + x * self.beta
        x = self.conv5(self.sg(self.conv4(self.norm2(y))))
        return y + x * self.gamma


class NAFNet(nn.Module):
    """Image in [0, 1] (N x C x H x W, H and W multiples of ``2**len(enc_blocks)``), restored image out."""

    def __init__(
        self,
        in_channels: int = 3,
        width: int = 16,
        enc_blocks: tuple[int, ...] = (1, 1, 1, 28),
        middle_blocks: int = 1,
        dec_blocks: tuple[int, ...] = (1, 1, 1, 1),
    ) -> None:
        super().__init__()
        if len(enc_blocks) != len(dec_blocks):
            raise ValueError("enc_blocks and dec_blocks must have the same length")
        self.intro = nn.Conv2d(in_channels, width, 3, padding=1)
        self.ending = nn.Conv2d(width, in_channels, 3, padding=1)
        self.encoders = nn.ModuleList()
        self.decoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        self.ups = nn.ModuleList()
        chan = width
        for n in enc_blocks:
            self.encoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(n)]))
            self.downs.append(nn.Conv2d(chan, 2 * chan, 2, stride=2))
            chan *= 2
        self.middle_blks = nn.Sequential(*[NAFBlock(chan) for _ in range(middle_blocks)])
        for n in dec_blocks:
            self.ups.append(nn.Sequential(nn.Conv2d(chan, chan * 2, 1, bias=False), nn.PixelShuffle(2)))
            chan //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(chan) for _ in range(n)]))

    def set_tlc(self, base_size: int | None) -> None:
        """Use local channel attention with an image-space window of ``base_size`` (None: global)."""
        for level, blocks in self._levels():
            for block in blocks:
                block.sca[0].window = max(1, base_size // 2**level) if base_size else None

    def _levels(self):
        n = len(self.encoders)
        for i, enc in enumerate(self.encoders):
            yield i, list(enc)
        yield n, list(self.middle_blks)
        for i, dec in enumerate(self.decoders):
            yield n - 1 - i, list(dec)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = self.intro(inp)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle_blks(x)
        for decoder, up, skip in zip(self.decoders, self.ups, reversed(skips)):
            x = decoder(self.up_add(up, x, skip))
        return self.ending(x) + inp

    @staticmethod
    def up_add(up: nn.Module, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """One decoder level's input: the upsampled features plus the encoder's skip."""
        return up(x) + skip


class FastNAFBlock(nn.Module):
    """The inference form of a :class:`NAFBlock`: same outputs, fewer passes over memory.

    Each LayerNorm2d is one normalisation kernel over the NHWC view (:func:`channel_layer_norm`) with its
    affine folded into the following 1x1 conv; ``beta`` and ``gamma`` are folded into conv3 and conv5. With
    global channel attention on one image, the attention scale multiplies conv3's weights (``C x C/2``
    numbers) instead of the activations.
    """

    def __init__(self, block: NAFBlock) -> None:
        super().__init__()
        self.eps1, self.eps2 = block.norm1.eps, block.norm2.eps
        self.conv1 = Pointwise.fold(block.conv1, block.norm1.weight, block.norm1.bias)
        self.conv2 = block.conv2  # shared with the trained form, unchanged
        self.pool = block.sca[0]  # shared, so a later set_tlc() on the trained form applies here too
        self.sca = Pointwise.fold(block.sca[1])
        self.conv3 = Pointwise.fold(block.conv3, out_scale=block.beta)
        self.conv4 = Pointwise.fold(block.conv4, block.norm2.weight, block.norm2.bias)
        self.conv5 = Pointwise.fold(block.conv5, out_scale=block.gamma)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        a, b = self.conv2(self.conv1(channel_layer_norm(inp, self.eps1))).chunk(2, dim=1)
        x = a * b
        scale = self.sca(self.pool(x))
        if scale.shape[0] == 1 and scale.shape[-2:] == (1, 1):
            y = self.conv3(x, scale=scale, residual=inp)
        else:
            y = self.conv3(x * scale, residual=inp)
        a, b = self.conv4(channel_layer_norm(y, self.eps2)).chunk(2, dim=1)
        return self.conv5(a * b, residual=y)


class ShuffleUp(nn.Module):
    """The inference form of an up step, ``PixelShuffle(2)(conv1x1(x))``, added to the skip in one pass.

    The bias-free 1x1 conv runs as a :class:`Pointwise` (PyTorch sent it to its slow unfused path) with its
    output channels reordered so that, on NHWC memory, the shuffle is a view; the sum is written into
    ``skip`` in place (an intermediate of the forward pass, not used again).
    """

    def __init__(self, up: nn.Sequential) -> None:
        super().__init__()
        conv = up[0]
        c = conv.out_channels // 4
        # PixelShuffle reads output channel k * 4 + i * 2 + j into pixel (2y + i, 2x + j) of channel k;
        # reordered to (i * 2 + j) * c + k, each output pixel's c values are contiguous.
        weight = conv.weight[:, :, 0, 0].reshape(c, 2, 2, -1).permute(1, 2, 0, 3).reshape(4 * c, -1)
        self.conv = Pointwise(weight, conv.bias)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        y = self.conv(x).permute(0, 2, 3, 1)  # N x h x w x 4c, contiguous when x is channels_last
        c = y.shape[-1] // 4
        shuffled = y.reshape(n, h, w, 2, 2, c).permute(0, 1, 3, 2, 4, 5)  # N x h x i x w x j x c
        skip.permute(0, 2, 3, 1).view(n, h, 2, w, 2, c).add_(shuffled)
        return skip


class FastNAFNet(nn.Module):
    """The inference form of :class:`NAFNet`: :class:`FastNAFBlock` s and :class:`ShuffleUp` s, NHWC input.

    Unchanged layers (intro, ending, downs, depthwise convs) are shared with the trained module, not copied.
    """

    def __init__(self, model: NAFNet) -> None:
        super().__init__()
        self.intro, self.ending, self.downs = model.intro, model.ending, model.downs
        self.encoders = nn.ModuleList(nn.Sequential(*map(FastNAFBlock, enc)) for enc in model.encoders)
        self.middle_blks = nn.Sequential(*map(FastNAFBlock, model.middle_blks))
        self.ups = nn.ModuleList(map(ShuffleUp, model.ups))
        self.decoders = nn.ModuleList(nn.Sequential(*map(FastNAFBlock, dec)) for dec in model.decoders)

    forward = NAFNet.forward  # the same network; only the up steps differ

    @staticmethod
    def up_add(up: nn.Module, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return up(x, skip)  # a ShuffleUp adds the skip in its own pass


def inference_form(model: NAFNet) -> nn.Module:
    """The inference form of ``model``: a :class:`FastNAFNet` on channels_last input, same outputs.

    Its full-resolution layers are bound by memory traffic, page faults included: the engine has the
    process reuse freed memory (:func:`restore_cli.engine.reuse_freed_memory`).
    """
    return ChannelsLast(FastNAFNet(model).eval())


def _build(in_channels: int, width: int, enc_blocks, middle_blocks: int, dec_blocks) -> NAFNet:
    return NAFNet(in_channels, width, tuple(enc_blocks), middle_blocks, tuple(dec_blocks))


def detect(state) -> bool:
    """Upstream NAFNet (BasicSR) keys: ``intro``, ``ending`` and ``downs.i``."""
    return "intro.weight" in state and "ending.weight" in state and any(k.startswith("downs.") for k in state)


def hyper_from_state(state) -> dict:
    """Width and channels from ``intro.weight`` (width x C x 3 x 3); block counts from the key indices."""
    intro = state["intro.weight"].shape
    levels = key_indices(state, "downs.")
    return {
        "in_channels": int(intro[1]),
        "width": int(intro[0]),
        "enc_blocks": [len(key_indices(state, f"encoders.{i}.")) for i in levels],
        "middle_blocks": len(key_indices(state, "middle_blks.")),
        "dec_blocks": [len(key_indices(state, f"decoders.{i}.")) for i in levels],
    }


register(
    ArchSpec(
        id="nafnet",
        task="deblur",
        build=_build,
        defaults={
            "in_channels": 3,
            "width": 16,
            "enc_blocks": [1, 1, 1, 8],
            "middle_blocks": 1,
            "dec_blocks": [1, 1, 1, 1],
        },
        # one stride-2 downsampling per encoder level
        size_multiple_of=lambda hyper: 2 ** len(hyper["enc_blocks"]),
        # measured for width 16: about 1.0-1.2 kB per pixel at inference, against the 1.5 kB assumed
        bytes_per_pixel_of=lambda hyper: 4 * 24 * int(hyper["width"]),
        description="NAFNet: activation-free U-Net, fast and strong for motion deblurring",
        inference_form=inference_form,
        detect=detect,
        hyper_from_state=hyper_from_state,
        # Upstream evaluates its GoPro/REDS models with local (TLC) channel attention, base 1.5 x 256 crops.
        import_meta={"inference": {"tlc_base_size": 384}},
    )
)
