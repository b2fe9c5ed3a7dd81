"""Importing upstream checkpoints: each architecture from a state dict in the upstream layout, saved the way
upstream saves it, must give our model the reference model's outputs; unsafe or unknown files are refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from torch import nn

from restore_cli import weights as W
from restore_cli.errors import BadWeightsError, UnknownModelError
from restore_cli.models import create_model, get_arch
from restore_cli.weights_import import import_checkpoint, unwrap_state_dict


@pytest.fixture(autouse=True)
def isolated_dirs(no_shipped_weights):
    """Every test gets its own empty user dir (conftest's autouse restore_home) and empty shipped dir."""
    return no_shipped_weights


def needs_arch(arch: str):
    try:
        get_arch(arch)
    except UnknownModelError:
        pytest.skip(f"architecture {arch!r} is not in the registry yet")


def randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random values everywhere (upstream zero-inits some scales), running stats included."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in module.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.2)
        for name, buf in module.named_buffers():
            if name.endswith("running_var"):
                buf.abs_().add_(0.5)
    return module.eval()


# --- NAFNet ---------------------------------------------------------------------------------------------


def test_nafnet_import_from_basicsr_container(tmp_path):
    hyper = {"in_channels": 3, "width": 8, "enc_blocks": [1, 2], "middle_blocks": 2, "dec_blocks": [1, 1]}
    reference = randomize(create_model("nafnet", **hyper))
    state = reference.state_dict()
    # The upstream names (BasicSR NAFNet) that the detector relies on.
    for key in ("intro.weight", "encoders.1.1.sca.1.weight", "downs.0.weight", "middle_blks.1.beta"):
        assert key in state
    assert "ups.0.0.weight" in state and "decoders.1.0.norm2.weight" in state and "ending.bias" in state
    ckpt = tmp_path / "NAFNet-GoPro-width8.pth"
    torch.save({"params": {f"module.{k}": v for k, v in state.items()}}, ckpt)  # BasicSR + DataParallel

    entry = import_checkpoint(ckpt, license="MIT")
    assert entry.name == "NAFNet-GoPro-width8" and entry.arch == "nafnet" and entry.task == "deblur"
    assert entry.license == "MIT" and entry.path.parent == W.user_weights_dir()
    meta = W.read_metadata(entry.path)
    assert meta["hyper"] == hyper
    assert meta["source"]["file"] == ckpt.name and meta["source"]["sha256"] == W.sha256_file(ckpt)
    assert meta["inference"] == {"tlc_base_size": 384}

    loaded = W.load_model(entry.name, task="deblur")
    x = torch.rand(1, 3, 16, 20)
    with torch.no_grad():
        assert torch.allclose(loaded.module(x), reference(x), atol=1e-6)


def test_params_ema_preferred_and_list_shows_import(tmp_path):
    hyper = {"in_channels": 1, "width": 4, "enc_blocks": [1], "middle_blocks": 1, "dec_blocks": [1]}
    ema = randomize(create_model("nafnet", **hyper), seed=1)
    raw = randomize(create_model("nafnet", **hyper), seed=2)
    ckpt = tmp_path / "gray.pth"
    torch.save({"params": raw.state_dict(), "params_ema": ema.state_dict()}, ckpt)
    entry = import_checkpoint(ckpt, arch="nafnet", name="gray-nafnet")
    assert entry.task == "deblur-gray"
    assert [e.name for e in W.list_weights()] == ["gray-nafnet"]
    loaded = W.load_model("gray-nafnet", task="deblur-gray")
    x = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(loaded.module(x), ema(x), atol=1e-6)


# --- DeblurGAN (2018 release) ---------------------------------------------------------------------------


class UpstreamResnetBlock(nn.Module):
    def __init__(self, dim: int, use_dropout: bool) -> None:
        super().__init__()
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim), nn.ReLU(True)]
        layers += [nn.Dropout(0.5)] if use_dropout else []
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


class UpstreamDeblurGAN(nn.Module):
    """The released generator's structure, written from its description: input and output in [-1, 1]."""

    def __init__(self, in_nc: int = 3, out_nc: int = 3, ngf: int = 8, n_blocks: int = 2, use_dropout=True):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_nc, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for i in range(2):
            m = 2**i
            layers += [
                nn.Conv2d(ngf * m, ngf * m * 2, 3, 2, 1),
                nn.InstanceNorm2d(ngf * m * 2),
                nn.ReLU(True),
            ]
        layers += [UpstreamResnetBlock(ngf * 4, use_dropout) for _ in range(n_blocks)]
        for i in range(2):
            m = 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, 2, 1, output_padding=1),
                nn.InstanceNorm2d(ngf * m // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return torch.clamp(x + self.model(x), -1, 1)  # learn_residual at test time


def stale_instance_norm_stats(module: nn.Module) -> dict[str, torch.Tensor]:
    """What PyTorch 0.3 saved for non-affine InstanceNorm layers: running stats that must be dropped."""
    extra = {}
    for name, sub in module.named_modules():
        if isinstance(sub, nn.InstanceNorm2d):
            extra[f"{name}.running_mean"] = torch.full((sub.num_features,), 7.0)
            extra[f"{name}.running_var"] = torch.full((sub.num_features,), 9.0)
    return extra


@pytest.mark.parametrize("use_dropout", [True, False])
def test_deblurgan_import_matches_upstream(tmp_path, use_dropout):
    needs_arch("deblurgan")
    reference = randomize(UpstreamDeblurGAN(use_dropout=use_dropout))
    state = {**reference.state_dict(), **stale_instance_norm_stats(reference)}
    assert "model.2.running_mean" in state and "model.10.conv_block.1.weight" in state
    ckpt = tmp_path / "latest_net_G.pth"
    torch.save(state, ckpt)
    entry = import_checkpoint(ckpt, name="deblurgan-test")
    assert entry.arch == "deblurgan"
    loaded = W.load_model("deblurgan-test", task="deblur")
    assert loaded.hyper["ngf"] == 8 and loaded.hyper["n_blocks"] == 2 and loaded.hyper["laplacian"] is False
    x = torch.rand(1, 3, 16, 12)
    with torch.no_grad():
        expected = (reference(x * 2 - 1) + 1) / 2
        assert torch.allclose(loaded.module(x), expected, atol=1e-5)


def test_deblurgan_laplacian_variant_detected(tmp_path):
    needs_arch("deblurgan")
    reference = randomize(UpstreamDeblurGAN(in_nc=4, out_nc=3))
    ckpt = tmp_path / "lap.pth"
    torch.save({"netG": reference.state_dict()}, ckpt)
    entry = import_checkpoint(ckpt)
    assert W.read_metadata(entry.path)["hyper"]["laplacian"] is True


# --- ECCV16 and SIGGRAPH17 colorizers -------------------------------------------------------------------


def _conv_relu(channels, *, stride_last=False, dilation=1, bn=True):
    layers = []
    for i, (a, b) in enumerate(zip(channels[:-1], channels[1:])):
        stride = 2 if stride_last and i == len(channels) - 2 else 1
        layers += [nn.Conv2d(a, b, 3, stride, padding=dilation, dilation=dilation), nn.ReLU(True)]
    if bn:
        layers.append(nn.BatchNorm2d(channels[-1]))
    return nn.Sequential(*layers)


# Official widths are (64, 128, 256, 512); tests use one eighth so they run in milliseconds.
C1, C2, C3, C4 = 8, 16, 32, 64


class UpstreamECCV16(nn.Module):
    """Zhang et al. 2016's PyTorch port layout (model1..model8, 313-bin head, model_out), width-scaled."""

    def __init__(self):
        super().__init__()
        self.model1 = _conv_relu([1, C1, C1], stride_last=True)
        self.model2 = _conv_relu([C1, C2, C2], stride_last=True)
        self.model3 = _conv_relu([C2, C3, C3, C3], stride_last=True)
        self.model4 = _conv_relu([C3, C4, C4, C4])
        self.model5 = _conv_relu([C4, C4, C4, C4], dilation=2)
        self.model6 = _conv_relu([C4, C4, C4, C4], dilation=2)
        self.model7 = _conv_relu([C4, C4, C4, C4])
        self.model8 = nn.Sequential(
            nn.ConvTranspose2d(C4, C3, 4, 2, 1),
            nn.ReLU(True),
            nn.Conv2d(C3, C3, 3, 1, 1),
            nn.ReLU(True),
            nn.Conv2d(C3, C3, 3, 1, 1),
            nn.ReLU(True),
            nn.Conv2d(C3, 313, 1),
        )
        self.model_out = nn.Conv2d(313, 2, 1, bias=False)

    def logits(self, l_norm):
        x = l_norm
        for block in (self.model1, self.model2, self.model3, self.model4, self.model5, self.model6):
            x = block(x)
        return self.model8(self.model7(x))


def test_eccv16_import_matches_upstream_logits(tmp_path):
    needs_arch("eccv16")
    reference = randomize(UpstreamECCV16())
    ckpt = tmp_path / "colorization_release_v2.pth"
    torch.save(reference.state_dict(), ckpt)
    entry = import_checkpoint(ckpt, license="BSD-2-Clause")
    assert entry.arch == "eccv16" and entry.task == "colorize"
    loaded = W.load_model(entry.name, task="colorize")
    l_norm = torch.rand(1, 1, 32, 32) - 0.5
    with torch.no_grad():
        assert torch.allclose(loaded.module.logits(l_norm), reference.logits(l_norm), atol=1e-4)
        ab = loaded.module(l_norm)
    assert ab.shape[1] == 2 and torch.isfinite(ab).all()


class UpstreamSIGGRAPH17(nn.Module):
    """Zhang et al. 2017's PyTorch port layout: 4-channel input, short-cuts, model_out + tanh x 110."""

    def __init__(self, classes: int = 529):
        super().__init__()
        self.model1 = _conv_relu([4, C1, C1])
        self.model2 = _conv_relu([C1, C2, C2])
        self.model3 = _conv_relu([C2, C3, C3, C3])
        self.model4 = _conv_relu([C3, C4, C4, C4])
        self.model5 = _conv_relu([C4, C4, C4, C4], dilation=2)
        self.model6 = _conv_relu([C4, C4, C4, C4], dilation=2)
        self.model7 = _conv_relu([C4, C4, C4, C4])
        self.model8up = nn.Sequential(nn.ConvTranspose2d(C4, C3, 4, 2, 1))
        self.model3short8 = nn.Sequential(nn.Conv2d(C3, C3, 3, 1, 1))
        self.model8 = nn.Sequential(nn.ReLU(True), *_conv_relu([C3, C3, C3]))
        self.model9up = nn.Sequential(nn.ConvTranspose2d(C3, C2, 4, 2, 1))
        self.model2short9 = nn.Sequential(nn.Conv2d(C2, C2, 3, 1, 1))
        self.model9 = nn.Sequential(nn.ReLU(True), *_conv_relu([C2, C2]))
        self.model10up = nn.Sequential(nn.ConvTranspose2d(C2, C2, 4, 2, 1))
        self.model1short10 = nn.Sequential(nn.Conv2d(C1, C2, 3, 1, 1))
        self.model10 = nn.Sequential(nn.ReLU(True), nn.Conv2d(C2, C2, 3, 1, 1), nn.LeakyReLU(0.2))
        self.model_class = nn.Sequential(nn.Conv2d(C3, classes, 1))
        self.model_out = nn.Sequential(nn.Conv2d(C2, 2, 1), nn.Tanh())

    def forward(self, l_norm):
        """Automatic mode as the released demo runs it: no hints (ab = 0, mask = 0)."""
        zeros = torch.zeros_like(l_norm)
        c1 = self.model1(torch.cat([l_norm, zeros, zeros, zeros], 1))
        c2 = self.model2(c1[:, :, ::2, ::2])
        c3 = self.model3(c2[:, :, ::2, ::2])
        c7 = self.model7(self.model6(self.model5(self.model4(c3[:, :, ::2, ::2]))))
        c8 = self.model8(self.model8up(c7) + self.model3short8(c3))
        c9 = self.model9(self.model9up(c8) + self.model2short9(c2))
        c10 = self.model10(self.model10up(c9) + self.model1short10(c1))
        return self.model_out(c10) * 110


def test_siggraph17_import_matches_upstream(tmp_path):
    needs_arch("siggraph17")
    reference = randomize(UpstreamSIGGRAPH17())
    # A BatchNorm's num_batches_tracked is an integer buffer: it must survive the round trip.
    assert reference.state_dict()["model1.4.num_batches_tracked"].dtype == torch.int64
    ckpt = tmp_path / "siggraph17.pth"
    torch.save(reference.state_dict(), ckpt)
    entry = import_checkpoint(ckpt)
    assert entry.arch == "siggraph17" and entry.task == "colorize"
    loaded = W.load_model(entry.name, task="colorize")
    l_norm = torch.rand(1, 1, 32, 32) - 0.5
    with torch.no_grad():
        assert torch.allclose(loaded.module(l_norm), reference(l_norm), atol=1e-3)


# --- refusals -------------------------------------------------------------------------------------------


class Payload:
    """Unpickling this would create the marker file (it never may)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class OpenPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("payload_class", [Payload, OpenPayload])
def test_malicious_pickle_refused_and_payload_never_runs(tmp_path, payload_class):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.pth"
    good = {"intro.weight": torch.zeros(4, 3, 3, 3)}
    torch.save({"params": good, "extra": payload_class(marker)}, ckpt)
    assert not marker.exists()
    with pytest.raises(BadWeightsError, match="refused") as err:
        import_checkpoint(ckpt)
    assert str(ckpt) in str(err.value)
    assert not marker.exists()
    assert W.list_weights() == []


def test_unknown_layout_lists_first_keys(tmp_path):
    ckpt = tmp_path / "other.pth"
    torch.save(
        {"state_dict": {"backbone.conv0.weight": torch.zeros(2, 3, 1, 1), "head.fc.bias": torch.zeros(2)}},
        ckpt,
    )
    with pytest.raises(BadWeightsError, match="unknown checkpoint layout.*backbone.conv0.weight"):
        import_checkpoint(ckpt)


def test_forced_wrong_arch_refused(tmp_path):
    model = randomize(create_model("nafnet", width=4, enc_blocks=[1], middle_blocks=1, dec_blocks=[1]))
    ckpt = tmp_path / "n.pth"
    torch.save(model.state_dict(), ckpt)
    with pytest.raises(BadWeightsError):
        import_checkpoint(ckpt, arch="deblurgan")


def test_nafnet_with_wrong_shapes_refused(tmp_path):
    state = randomize(
        create_model("nafnet", width=4, enc_blocks=[1], middle_blocks=1, dec_blocks=[1])
    ).state_dict()
    state["ending.weight"] = torch.zeros(3, 5, 3, 3)
    ckpt = tmp_path / "bad.pth"
    torch.save(state, ckpt)
    with pytest.raises(BadWeightsError, match="ending.weight"):
        import_checkpoint(ckpt)


def test_garbage_checkpoint_refused(tmp_path):
    ckpt = tmp_path / "junk.pth"
    ckpt.write_bytes(b"this is not a checkpoint at all" * 10)
    with pytest.raises(BadWeightsError):
        import_checkpoint(ckpt)
    with pytest.raises(BadWeightsError, match="not found"):
        import_checkpoint(tmp_path / "missing.pth")


def test_unwrap_handles_nested_containers():
    tensor = torch.zeros(1)
    nested = {"epoch": 3, "state_dict": {"model": {"module.module.a.weight": tensor}}}
    assert list(unwrap_state_dict(nested, Path("x"))) == ["a.weight"]


def test_cli_import_then_list(tmp_path):
    from typer.testing import CliRunner

    from restore_cli.cli.weights import app

    model = randomize(create_model("nafnet", width=4, enc_blocks=[1], middle_blocks=1, dec_blocks=[1]))
    ckpt = tmp_path / "cli.pth"
    torch.save({"params": model.state_dict()}, ckpt)
    runner = CliRunner()
    result = runner.invoke(app, ["import", str(ckpt), "--name", "from-cli", "--license", "MIT"])
    assert result.exit_code == 0, result.output
    assert "from-cli" in result.stdout and "restore deblur --model from-cli" in result.stdout
    records = json.loads(runner.invoke(app, ["list", "--json"]).stdout)
    assert [(r["name"], r["arch"], r["license"]) for r in records] == [("from-cli", "nafnet", "MIT")]


# --- acceptance: import, then restore deblur/colorize --model NAME, through the root CLI ---------------


def _upstream_checkpoint(arch: str, path: Path) -> None:
    if arch == "nafnet":
        model = create_model("nafnet", width=4, enc_blocks=[1], middle_blocks=1, dec_blocks=[1])
        torch.save({"params": randomize(model).state_dict()}, path)
    elif arch == "deblurgan":
        torch.save(randomize(UpstreamDeblurGAN(ngf=4, n_blocks=1)).state_dict(), path)
    elif arch == "eccv16":
        torch.save(randomize(UpstreamECCV16()).state_dict(), path)
    else:
        torch.save(randomize(UpstreamSIGGRAPH17()).state_dict(), path)


@pytest.mark.parametrize("arch", ["nafnet", "deblurgan", "eccv16", "siggraph17"])
def test_import_then_run_with_model_name(tmp_path, arch):
    needs_arch(arch)
    import numpy as np
    from PIL import Image
    from typer.testing import CliRunner

    from restore_cli.cli import app

    ckpt = tmp_path / f"upstream-{arch}.pth"
    _upstream_checkpoint(arch, ckpt)
    runner = CliRunner()
    imported = runner.invoke(app, ["weights", "import", str(ckpt), "--name", f"up-{arch}"])
    assert imported.exit_code == 0, imported.output
    photo = tmp_path / "photo.png"
    pixels = (np.random.default_rng(0).random((23, 31, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels if arch in ("nafnet", "deblurgan") else pixels[..., 0]).save(photo)
    command = "deblur" if arch in ("nafnet", "deblurgan") else "colorize"
    out = tmp_path / "out.png"
    result = runner.invoke(app, [command, "--model", f"up-{arch}", str(photo), "-o", str(out)])
    assert result.exit_code == 0, result.output
    with Image.open(out) as written:
        assert written.size == (31, 23) and written.mode == "RGB"
