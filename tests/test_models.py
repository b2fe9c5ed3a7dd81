"""Every registered architecture: tiny config, odd sizes, shape, finite values, safetensors round trip."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from restore_cli.models import create_model, get_arch, list_archs

# Hyperparameters small enough that each model runs in well under a second on CPU.
TINY: dict[str, dict] = {
    "nafnet": {"width": 8, "enc_blocks": [1, 1], "middle_blocks": 1, "dec_blocks": [1, 1]},
    "unet": {"base": 4, "depth": 3},
    "deblurgan": {"ngf": 4, "n_blocks": 2},
    "rednet30": {"width": 4, "depth": 6},
    "msdeblur": {"width": 4, "n_blocks": 1},
    "eccv16": {"width": 0.0625},
    "siggraph17": {"width": 0.0625, "classes": 8},
}


def _input(arch: str, model: torch.nn.Module, h: int = 29, w: int = 37) -> tuple[torch.Tensor, int, int]:
    """A random input of an odd size, reflect-padded up to the model's size multiple."""
    spec = get_arch(arch)
    multiple = spec.size_multiple_for(create_hyper(arch))
    channels = 1 if spec.task == "colorize" else create_hyper(arch).get("in_channels", 3)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, channels, h, w, generator=gen)
    if spec.task == "colorize":
        x = x - 0.5  # (L - 50) / 100
    ph, pw = -h % multiple, -w % multiple
    x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x, h + ph, w + pw


def create_hyper(arch: str) -> dict:
    return get_arch(arch).hyper(**TINY.get(arch, {}))


@pytest.mark.parametrize("arch", list_archs())
def test_tiny_forward_and_safetensors_round_trip(arch, tmp_path):
    torch.manual_seed(0)
    spec = get_arch(arch)
    model = create_model(arch, **TINY.get(arch, {})).eval()
    x, hp, wp = _input(arch, model)
    with torch.inference_mode():
        y = model(x)
    assert torch.isfinite(y).all()
    if spec.task == "deblur":
        assert y.shape == x.shape
    else:
        assert spec.color_space == "lab" and spec.work_size
        assert model.head in ("ab", "bins")
        assert y.shape[:2] == (2, 2)
        factor = hp // y.shape[2]
        assert factor in (1, 4) and y.shape[2:] == (hp // factor, wp // factor)
        assert y.abs().max() <= 128
        if model.head == "bins":
            with torch.inference_mode():
                assert model.logits(x).shape == (2, 313, *y.shape[2:])

    path = tmp_path / f"{arch}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    clone = create_model(arch, **TINY.get(arch, {})).eval()
    clone.load_state_dict(load_file(str(path)), strict=True)
    with torch.inference_mode():
        torch.testing.assert_close(clone(x), y)


@pytest.mark.parametrize("arch", list_archs())
def test_spec_is_complete(arch):
    spec = get_arch(arch)
    assert spec.task in ("deblur", "colorize")
    hyper = create_hyper(arch)
    assert spec.size_multiple_for(hyper) >= 1 and spec.bytes_per_pixel_of(hyper) > 0 and spec.description
    assert spec.head_for(hyper) in (("image",) if spec.task == "deblur" else ("ab", "bins"))
    assert spec.color_space == ("lab" if spec.task == "colorize" else "rgb")
    for value in spec.defaults.values():
        assert not isinstance(value, tuple)  # hyperparameters are JSON values


def test_unet_bins_head_and_size():
    model = create_model("unet", base=4, depth=3, head="bins").eval()
    l_norm = torch.zeros(1, 1, 16, 16)
    with torch.inference_mode():
        # the 313-bin head predicts at a quarter of the resolution, like ECCV16
        assert model.logits(l_norm).shape == (1, 313, 4, 4)
        assert model(l_norm).shape == (1, 2, 4, 4)
    with pytest.raises(ValueError):
        create_model("unet", base=4, depth=2, head="bins")
    default = create_model("unet")
    assert get_arch("unet").size_multiple_for(get_arch("unet").hyper()) == 64
    megabytes = sum(p.numel() for p in default.parameters()) * 4 / 1e6
    assert 1 < megabytes < 10
    with pytest.raises(RuntimeError):
        create_model("unet", base=4, depth=3).logits(l_norm)


def test_deblurgan_default_keys_follow_the_2018_release():
    model = create_model("deblurgan")
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["model.1.weight"] == (64, 3, 7, 7)
    assert shapes["model.4.weight"] == (128, 64, 3, 3)
    assert shapes["model.7.weight"] == (256, 128, 3, 3)
    assert shapes["model.10.conv_block.1.weight"] == (256, 256, 3, 3)
    assert shapes["model.18.conv_block.6.weight"] == (256, 256, 3, 3)
    assert shapes["model.19.weight"] == (256, 128, 3, 3)  # ConvTranspose2d: in, out, k, k
    assert shapes["model.22.weight"] == (128, 64, 3, 3)
    assert shapes["model.26.weight"] == (3, 64, 7, 7) and "model.26.bias" in shapes
    assert not any("running" in k for k in shapes)  # instance norm: no affine, no running stats
    assert len(shapes) == 48
    # as upstream's --no_dropout: no dropout layer, so the second conv of each block moves to .5
    no_dropout = {k for k in create_model("deblurgan", ngf=4, dropout=0.0).state_dict()}
    assert "model.10.conv_block.5.weight" in no_dropout and "model.10.conv_block.6.weight" not in no_dropout


def test_deblurgan_laplacian_adds_an_input_channel():
    plain = create_model("deblurgan", ngf=4, n_blocks=1)
    with_lap = create_model("deblurgan", ngf=4, n_blocks=1, laplacian=True).eval()
    assert plain.state_dict()["model.1.weight"].shape[1] == 3
    assert with_lap.state_dict()["model.1.weight"].shape[1] == 4
    gray = create_model("deblurgan", ngf=4, n_blocks=1, laplacian=True, in_channels=1).eval()
    assert gray.state_dict()["model.1.weight"].shape[1] == 2
    x = torch.rand(1, 3, 12, 16)
    with torch.inference_mode():
        y = with_lap(x)
        assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
        assert gray(x[:, :1]).shape == (1, 1, 12, 16)


def test_deblurgan_zero_last_layer_is_identity():
    model = create_model("deblurgan", ngf=4, n_blocks=1).eval()
    with torch.no_grad():
        model.model[-2].weight.zero_()
        model.model[-2].bias.zero_()
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), x)


def _meta_shapes(arch: str) -> dict[str, tuple[int, ...]]:
    """Parameter shapes of an architecture's default (full-size) config, built without allocating memory."""
    with torch.device("meta"):
        model = create_model(arch)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_eccv16_default_keys_follow_the_official_port():
    shapes = _meta_shapes("eccv16")
    assert shapes["model1.0.weight"] == (64, 1, 3, 3)
    assert shapes["model1.4.running_mean"] == (64,)
    assert shapes["model3.6.weight"] == (256,)
    assert shapes["model5.0.weight"] == (512, 512, 3, 3)
    assert shapes["model8.0.weight"] == (512, 256, 4, 4)
    assert shapes["model8.6.weight"] == (313, 256, 1, 1) and "model8.6.bias" in shapes
    assert shapes["model_out.weight"] == (2, 313, 1, 1) and "model_out.bias" not in shapes
    assert not any(k.startswith("bins") for k in shapes)


def test_eccv16_annealed_mean_at_t1_equals_the_official_plain_mean():
    from restore_cli.color import annealed_mean

    model = create_model("eccv16", width=0.0625).eval()
    l_norm = torch.rand(1, 1, 16, 24) - 0.5
    with torch.inference_mode():
        logits = model.logits(l_norm)
        assert logits.shape == (1, 313, 4, 6)
        torch.testing.assert_close(model.plain_mean(l_norm), annealed_mean(logits, T=1.0))
        torch.testing.assert_close(model(l_norm), annealed_mean(logits, T=0.38))


def test_siggraph17_default_keys_follow_the_official_port():
    shapes = _meta_shapes("siggraph17")
    assert shapes["model1.0.weight"] == (64, 4, 3, 3)  # L, two ab hints, mask
    assert shapes["model1.4.weight"] == (64,)
    assert shapes["model8up.0.weight"] == (512, 256, 4, 4)
    assert shapes["model3short8.0.weight"] == (256, 256, 3, 3)
    assert shapes["model8.1.weight"] == (256, 256, 3, 3) and shapes["model8.5.weight"] == (256,)
    assert shapes["model9.3.weight"] == (128,)
    assert shapes["model1short10.0.weight"] == (128, 64, 3, 3)
    assert shapes["model10.1.weight"] == (128, 128, 3, 3)
    assert shapes["model_class.0.weight"] == (529, 256, 1, 1)
    assert shapes["model_out.0.weight"] == (2, 128, 1, 1)


def test_siggraph17_hints_change_the_output():
    model = create_model("siggraph17", width=0.0625, classes=8).eval()
    l_norm = torch.rand(1, 1, 16, 16) - 0.5
    hints = torch.zeros(1, 2, 16, 16)
    mask = torch.zeros(1, 1, 16, 16)
    with torch.inference_mode():
        auto = model(l_norm)
        torch.testing.assert_close(model.forward_with_hints(l_norm, hints, mask), auto)
        hints[:, :, 8, 8] = torch.tensor([60.0, -40.0])
        mask[:, :, 8, 8] = 1.0
        assert not torch.allclose(model.forward_with_hints(l_norm, hints, mask), auto)


def test_rednet30_layout_and_residual():
    shapes = _meta_shapes("rednet30")
    assert sum(k.startswith("convs.") and k.endswith("weight") for k in shapes) == 15
    assert sum(k.startswith("deconvs.") and k.endswith("weight") for k in shapes) == 15
    assert shapes["convs.0.weight"] == (64, 3, 3, 3) and shapes["deconvs.14.weight"] == (64, 3, 3, 3)
    model = create_model("rednet30", width=4, depth=4).eval()
    with torch.no_grad():
        model.deconvs[-1].weight.zero_()
        model.deconvs[-1].bias.zero_()
    x = torch.rand(1, 3, 7, 9)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), x)  # last layer silent: output is the input


def test_msdeblur_pyramid_is_coarse_to_fine():
    from restore_cli.models.msdeblur import image_pyramid

    model = create_model("msdeblur", width=4, n_blocks=1).eval()
    spec = get_arch("msdeblur")
    assert spec.size_multiple_for(spec.hyper(width=4, n_blocks=1)) == 4
    x = torch.rand(2, 3, 16, 24)
    with torch.inference_mode():
        outs = model.forward_pyramid(x)
        assert [tuple(o.shape[-2:]) for o in outs] == [(4, 6), (8, 12), (16, 24)]
        torch.testing.assert_close(model(x), outs[-1])
    targets = image_pyramid(x, 3)
    assert [t.shape for t in targets] == [o.shape for o in outs]
    torch.testing.assert_close(targets[0].mean(), x.mean())
    two = create_model("msdeblur", width=4, n_blocks=1, scales=2)
    assert spec.size_multiple_for(spec.hyper(scales=2)) == 2 and len(two.levels) == 2


def test_nafnet_tlc_local_mean_matches_upstream_semantics():
    from restore_cli.models.nafnet import local_mean

    x = torch.rand(1, 2, 11, 14, dtype=torch.float64)
    for kh_kw in (3, 4, 5):
        # upstream: mean of the full windows inside the image, then replicate-padded back to the input size
        valid = F.avg_pool2d(x, kh_kw, stride=1)
        k = kh_kw
        expected = F.pad(valid, ((k - 1) // 2, k // 2, (k - 1) // 2, k // 2), mode="replicate")
        torch.testing.assert_close(local_mean(x, k), expected)
    torch.testing.assert_close(local_mean(x, 20), x.mean((2, 3), keepdim=True))
    # window larger than one side only: clipped to that side
    assert local_mean(x, 12).shape == x.shape


def test_nafnet_tlc_with_a_window_larger_than_the_image_is_global():
    model = create_model("nafnet", **TINY["nafnet"]).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # non-zero beta/gamma so attention matters
    x = torch.rand(1, 3, 16, 20)
    with torch.inference_mode():
        plain = model(x)
        model.set_tlc(64)
        torch.testing.assert_close(model(x), plain)
        model.set_tlc(8)
        assert not torch.allclose(model(x), plain)
        model.set_tlc(None)
        torch.testing.assert_close(model(x), plain)


# --- inference forms: same outputs as the trained form, trained module untouched


def _perturbed(arch: str, **hyper) -> torch.nn.Module:
    """A tiny model whose every parameter and norm statistic is off its initial value, so folds matter."""
    torch.manual_seed(0)
    model = create_model(arch, **{**TINY.get(arch, {}), **hyper}).eval()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.1)
        for name, b in model.named_buffers():
            if name.endswith("running_var"):
                b.uniform_(0.5, 2.0, generator=gen)
            elif name.endswith("running_mean"):
                b.normal_(0.0, 0.3, generator=gen)
    return model


FORM_CASES = [
    ("nafnet", {}, None),
    ("nafnet", {"in_channels": 1}, None),
    ("nafnet", {}, 8),  # TLC: local channel attention (a per-pixel scale)
    ("unet", {"head": "ab"}, None),
    ("unet", {"head": "bins"}, None),
    ("unet", {"head": "bins", "norm": "instance"}, None),
]


@pytest.mark.parametrize(("arch", "hyper", "tlc"), FORM_CASES)
def test_inference_form_gives_the_trained_outputs(arch, hyper, tlc):
    model = _perturbed(arch, **hyper)
    if tlc:
        model.set_tlc(tlc)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = get_arch(arch).inference_form(model)
    assert fast is not model
    channels = 1 if arch == "unet" else hyper.get("in_channels", 3)
    for batch in (1, 2):  # batch 1 folds channel attention into conv3's weights; 2 takes the general path
        gen = torch.Generator().manual_seed(batch)
        x = torch.rand(batch, channels, 32, 48, generator=gen) - (0.5 if arch == "unet" else 0.0)
        with torch.inference_mode():
            expected, got = model(x), fast(x)
        assert got.shape == expected.shape
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)
    for key, value in model.state_dict().items():  # the trained form (and its state dict) is untouched
        assert torch.equal(value, before[key]) and value.is_contiguous(), key


def test_nafnet_inference_form_follows_later_tlc_changes():
    model = _perturbed("nafnet")
    fast = get_arch("nafnet").inference_form(model)
    x = torch.rand(1, 3, 32, 48)
    model.set_tlc(8)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), model(x), atol=1e-4, rtol=0)


def test_deblurgan_has_no_inference_form():
    # Measured: channels_last and an NHWC instance norm made DeblurGAN slower (it is convolution-bound).
    assert get_arch("deblurgan").inference_form is None


@pytest.mark.parametrize("onednn", [True, False])
def test_nafnet_inference_form_on_both_pointwise_paths(monkeypatch, onednn):
    import restore_cli.models.common as common

    monkeypatch.setattr(common, "_ONEDNN", onednn and common._ONEDNN)  # False: the mm path (other devices)
    model = _perturbed("nafnet")
    fast = get_arch("nafnet").inference_form(model)
    x = torch.rand(1, 3, 32, 48)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), model(x), atol=1e-4, rtol=0)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # --precision bf16 runs the same form
            low = fast(x).float()
    assert (low - model(x)).abs().max() < 0.1


@pytest.mark.parametrize(("batch", "h", "w"), [(1, 37, 53), (3, 21, 30), (1, 1, 17)])
def test_shipped_nafnet_inference_form_on_odd_sizes(batch, h, w):
    from restore_cli.models.descriptor import pad_to_multiple
    from restore_cli.weights import load_model

    loaded = load_model(None, task="deblur")  # the shipped default, from the repository's weights/ folder
    assert loaded.arch == "nafnet"
    x = torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(h))
    with torch.inference_mode():
        got = loaded(x)  # padded to the size multiple, the inference form, cropped, clamped
        expected = loaded.module(pad_to_multiple(x, loaded.size_multiple))[..., :h, :w].clamp(0.0, 1.0)
    assert got.shape == (batch, 3, h, w)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize(("batch", "h", "w"), [(1, 16, 80), (2, 48, 16), (3, 32, 32)])
def test_nafnet_inference_form_on_shapes(in_channels, batch, h, w):
    model = _perturbed("nafnet", in_channels=in_channels)
    fast = get_arch("nafnet").inference_form(model)
    x = torch.rand(batch, in_channels, h, w, generator=torch.Generator().manual_seed(w))
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), model(x), atol=1e-4, rtol=0)
        nchw = fast.inner(x)  # without the channels_last wrapper: slower copies, same values
        torch.testing.assert_close(nchw, model(x), atol=1e-4, rtol=0)


def test_shuffle_up_adds_the_pixel_shuffled_conv_to_the_skip():
    from restore_cli.models.nafnet import ShuffleUp

    up = torch.nn.Sequential(torch.nn.Conv2d(12, 24, 1, bias=False), torch.nn.PixelShuffle(2))
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 12, 5, 7, generator=gen).contiguous(memory_format=torch.channels_last)
    skip = torch.randn(2, 6, 10, 14, generator=gen).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        expected = up(x) + skip
        got = ShuffleUp(up)(x, skip.clone())
    assert got.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("channels_last", [True, False])
def test_channel_layer_norm_is_layer_norm_over_channels(channels_last):
    from restore_cli.models.common import channel_layer_norm
    from restore_cli.models.nafnet import LayerNorm2d

    x = torch.randn(2, 5, 6, 7, generator=torch.Generator().manual_seed(5)) * 3 + 1
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        expected = LayerNorm2d(5)(x)  # weight 1, bias 0
    torch.testing.assert_close(channel_layer_norm(x, 1e-6), expected, atol=1e-5, rtol=0)
