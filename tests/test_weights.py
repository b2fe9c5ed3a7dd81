"""Weights files, manifests and loading: round trips, integrity checks, strict keys, defaults, the CLI."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from restore_cli import weights as W
from restore_cli.errors import BadWeightsError, NoDefaultWeightsError, UnknownModelError, UsageError
from restore_cli.models import create_model

TINY = {"in_channels": 3, "width": 4, "enc_blocks": [1, 1], "middle_blocks": 1, "dec_blocks": [1, 1]}


@pytest.fixture(autouse=True)
def isolated_dirs(no_shipped_weights):
    """Every test gets its own empty user dir (conftest's autouse restore_home) and empty shipped dir."""
    return no_shipped_weights


def tiny_nafnet(seed: int = 0, **hyper):
    torch.manual_seed(seed)
    model = create_model("nafnet", **{**TINY, **hyper})
    with torch.no_grad():  # beta/gamma start at zero upstream; make the blocks matter
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def save_tiny(path: Path, seed: int = 0, **kw) -> str:
    return W.save_weights(path, tiny_nafnet(seed), "nafnet", TINY, **kw)


def ship(folder: Path, name: str, file: Path, *, task="deblur", default_for=()) -> None:
    """Add an entry for ``file`` (already in ``folder``) to that folder's manifest."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["weights"].append(
        {
            "name": name,
            "file": file.name,
            "sha256": W.sha256_file(file),
            "task": task,
            "arch": "nafnet",
            "size_bytes": file.stat().st_size,
            "license": "MIT",
            "description": "tiny test weights",
            "default_for": list(default_for),
        }
    )
    (folder / "manifest.json").write_text(json.dumps(manifest))


def raw_safetensors(header: dict, data: bytes, header_len: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text) if header_len is None else header_len) + text + data


# --- round trip


def test_save_load_round_trip_gives_same_outputs(tmp_path):
    path = tmp_path / "m.safetensors"
    sha = W.save_weights(path, tiny_nafnet(), "nafnet", TINY, meta={"training": {"iterations": 3}})
    assert sha == W.sha256_file(path)
    meta = W.read_metadata(path)
    assert meta["format"] == "restore-weights/1" and meta["arch"] == "nafnet" and meta["task"] == "deblur"
    assert meta["hyper"]["width"] == 4 and meta["training"] == {"iterations": 3}
    loaded = W.load_model(path, task="deblur")
    assert not loaded.module.training
    assert loaded.size_multiple == 4 and loaded.in_channels == 3 and loaded.sha256 == sha
    x = torch.rand(1, 3, 8, 12)
    with torch.no_grad():
        assert torch.equal(loaded.module(x), tiny_nafnet()(x))


def test_half_storage_loads_as_fp32(tmp_path):
    path = tmp_path / "h.safetensors"
    W.save_weights(path, tiny_nafnet(), "nafnet", TINY, half=True)
    header = W.parse_header(path.read_bytes())
    assert {info.dtype for info in header.tensors.values()} == {"F16"}
    loaded = W.load_model(str(path), task="deblur")
    assert all(p.dtype == torch.float32 for p in loaded.module.parameters())
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(loaded.module(x), tiny_nafnet()(x), atol=2e-2)


def test_gray_model_is_deblur_gray(tmp_path):
    path = tmp_path / "g.safetensors"
    W.save_weights(path, tiny_nafnet(in_channels=1), "nafnet", {**TINY, "in_channels": 1})
    assert W.read_metadata(path)["task"] == "deblur-gray"
    assert W.load_model(path, task="deblur-gray").in_channels == 1


def test_colorize_task_refuses_deblur_weights(tmp_path):
    path = tmp_path / "m.safetensors"
    save_tiny(path)
    with pytest.raises(BadWeightsError, match="deblur model"):
        W.load_model(path, task="colorize")


# --- integrity


def test_manifest_sha_mismatch_refused(isolated_dirs):
    path = isolated_dirs / "m.safetensors"
    save_tiny(path)
    ship(isolated_dirs, "tiny", path)
    assert W.load_model("tiny", task="deblur").name == "tiny"
    save_tiny(path, seed=1)  # replaced behind the manifest's back
    with pytest.raises(BadWeightsError, match="sha256 mismatch") as err:
        W.load_model("tiny", task="deblur")
    assert str(path) in str(err.value)


def test_strict_keys_error_names_keys_and_arch(tmp_path):
    from safetensors.torch import save_file

    state = {k: v.clone() for k, v in tiny_nafnet().state_dict().items()}
    state.pop("intro.weight")
    state["extra.weight"] = torch.zeros(2)
    path = tmp_path / "k.safetensors"
    save_file(state, str(path), metadata={"arch": "nafnet", "hyper": json.dumps(TINY), "task": "deblur"})
    with pytest.raises(BadWeightsError) as err:
        W.load_model(path, task="deblur")
    message = str(err.value)
    assert "intro.weight" in message and "extra.weight" in message and "'nafnet'" in message


def test_other_architectures_keys_refused(tmp_path):
    from safetensors.torch import save_file

    other = {"model.1.weight": torch.zeros(8, 3, 7, 7), "model.1.bias": torch.zeros(8)}
    path = tmp_path / "o.safetensors"
    save_file(other, str(path), metadata={"arch": "nafnet", "hyper": json.dumps(TINY)})
    with pytest.raises(BadWeightsError, match="keys do not match architecture 'nafnet'"):
        W.load_model(path, task="deblur")


def test_shape_mismatch_refused(tmp_path):
    path = tmp_path / "s.safetensors"
    W.save_weights(path, tiny_nafnet(width=8), "nafnet", {**TINY, "width": 8})
    from safetensors.torch import load_file, save_file

    save_file(load_file(str(path)), str(path), metadata={"arch": "nafnet", "hyper": json.dumps(TINY)})
    with pytest.raises(BadWeightsError, match="shape"):
        W.load_model(path, task="deblur")


def test_missing_metadata_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "plain.safetensors"
    save_file(dict(tiny_nafnet().state_dict()), str(path))
    with pytest.raises(BadWeightsError, match="no restore metadata"):
        W.load_model(path, task="deblur")


def test_truncated_file_refused(tmp_path):
    path = tmp_path / "t.safetensors"
    save_tiny(path)
    data = path.read_bytes()
    for cut in (4, 20, len(data) - 10):
        path.write_bytes(data[:cut])
        with pytest.raises(BadWeightsError, match="truncated") as err:
            W.load_model(path, task="deblur")
        assert str(path) in str(err.value)


def test_huge_header_length_refused(tmp_path):
    path = tmp_path / "huge.safetensors"
    path.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    with pytest.raises(BadWeightsError, match="header"):
        W.load_model(path, task="deblur")
    with pytest.raises(BadWeightsError, match="header"):
        W.read_metadata(path)


def test_overlapping_offsets_refused(tmp_path):
    path = tmp_path / "ov.safetensors"
    header = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
        "__metadata__": {"arch": "nafnet", "hyper": json.dumps(TINY)},
    }
    path.write_bytes(raw_safetensors(header, bytes(12)))
    with pytest.raises(BadWeightsError, match="overlaps"):
        W.load_model(path, task="deblur")


def test_wrong_dtype_refused(tmp_path):
    path = tmp_path / "dt.safetensors"
    header = {"a": {"dtype": "X99", "shape": [2], "data_offsets": [0, 8]}}
    path.write_bytes(raw_safetensors(header, bytes(8)))
    with pytest.raises(BadWeightsError, match="dtype"):
        W.load_model(path, task="deblur")
    # A known dtype that cannot hold a float parameter: integers in place of intro.weight.
    from safetensors.torch import save_file

    state = {k: v.clone() for k, v in tiny_nafnet().state_dict().items()}
    state["intro.weight"] = state["intro.weight"].to(torch.int32)
    path2 = tmp_path / "int.safetensors"
    save_file(state, str(path2), metadata={"arch": "nafnet", "hyper": json.dumps(TINY)})
    with pytest.raises(BadWeightsError, match="dtype I32"):
        W.load_model(path2, task="deblur")


def test_shape_bytes_disagreement_and_garbage_refused(tmp_path):
    path = tmp_path / "g.safetensors"
    header = {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}
    path.write_bytes(raw_safetensors(header, bytes(8)))
    with pytest.raises(BadWeightsError, match="does not fit"):
        W.load_model(path, task="deblur")
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(BadWeightsError, match="not JSON"):
        W.load_model(path, task="deblur")


def test_pickle_path_points_to_import(tmp_path):
    with pytest.raises(BadWeightsError, match="restore weights import"):
        W.load_model(tmp_path / "x.pth", task="deblur")


def test_missing_file_refused(tmp_path):
    with pytest.raises(BadWeightsError, match="not found"):
        W.load_model(tmp_path / "nope.safetensors", task="deblur")


# --- manifests, defaults


def test_no_default_says_how_to_pass_weights():
    with pytest.raises(NoDefaultWeightsError) as err:
        W.load_model(task="deblur")
    assert "--weights" in str(err.value) and "--model" in str(err.value)


def test_unknown_name_lists_known():
    with pytest.raises(UnknownModelError, match="no weights named"):
        W.load_model("nothing-here", task="deblur")


def test_defaults_user_wins_and_gray_has_no_fallback(isolated_dirs, tmp_path):
    shipped_file = isolated_dirs / "s.safetensors"
    save_tiny(shipped_file)
    ship(isolated_dirs, "shipped-one", shipped_file, default_for=["deblur"])
    assert W.default_for("deblur").name == "shipped-one"
    assert W.default_for("deblur-gray") is None  # no fallback here: the Restorer picks the RGB default
    assert W.default_for("colorize") is None
    assert W.load_model(task="deblur").name == "shipped-one"

    src = tmp_path / "u.safetensors"
    save_tiny(src, seed=2)
    entry = W.add_user_weights(src, "mine", license="CC0")
    assert entry.origin == "user" and entry.arch == "nafnet" and entry.task == "deblur"
    W.set_default("mine", "deblur")
    assert W.default_for("deblur").name == "mine"
    W.set_default("shipped-one", "deblur")  # a shipped default chosen again through the user manifest
    assert W.default_for("deblur").name == "shipped-one"
    assert json.loads((isolated_dirs / "manifest.json").read_text())["weights"][0]["default_for"] == [
        "deblur"
    ]
    with pytest.raises(UsageError, match="not colorize"):
        W.set_default("mine", "colorize")


def test_user_entry_hides_shipped_and_remove(isolated_dirs, tmp_path):
    shipped_file = isolated_dirs / "s.safetensors"
    save_tiny(shipped_file)
    ship(isolated_dirs, "same", shipped_file)
    src = tmp_path / "u.safetensors"
    save_tiny(src, seed=3)
    W.add_user_weights(src, "same")
    assert [e.origin for e in W.list_weights() if e.name == "same"] == ["user"]
    with pytest.raises(UsageError, match="already exist"):
        W.add_user_weights(src, "same")
    removed = W.remove("same")
    assert not removed.path.exists()
    assert W.find_entry("same").origin == "shipped"
    with pytest.raises(UsageError, match="cannot be removed"):
        W.remove("same")


def test_verify_reports_each_entry(isolated_dirs, tmp_path):
    good = isolated_dirs / "good.safetensors"
    save_tiny(good)
    ship(isolated_dirs, "good", good)
    src = tmp_path / "u.safetensors"
    save_tiny(src)
    entry = W.add_user_weights(src, "bad")
    entry.path.write_bytes(entry.path.read_bytes()[:-7])
    results = {e.name: (ok, msg) for e, ok, msg in W.verify()}
    assert results["good"] == (True, "ok")
    assert results["bad"][0] is False and "sha256 mismatch" in results["bad"][1]


# --- CLI


def test_cli_list_info_verify_set_default_remove(isolated_dirs, tmp_path):
    from restore_cli.cli.weights import app

    runner = CliRunner()
    src = tmp_path / "u.safetensors"
    save_tiny(src)
    W.add_user_weights(src, "tiny", description="a tiny model")
    (isolated_dirs / "README.md").write_text("# Weights\n\n## tiny\nTrained for one step.\n\n## other\nNo.\n")

    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert records[0]["name"] == "tiny" and records[0]["arch"] == "nafnet" and records[0]["default"] is False

    assert runner.invoke(app, ["set-default", "tiny", "--task", "deblur"]).exit_code == 0
    records = json.loads(runner.invoke(app, ["list", "--json"]).stdout)
    assert records[0]["default"] is True and records[0]["default_for"] == ["deblur"]
    assert "tiny" in runner.invoke(app, ["list"]).stdout

    info = runner.invoke(app, ["info", "tiny"])
    assert info.exit_code == 0, info.output
    assert "nafnet" in info.stdout and "width" in info.stdout and "Trained for one step" in info.stdout
    assert W.find_entry("tiny").sha256[:16] in info.stdout
    info_file = runner.invoke(app, ["info", str(src)])
    assert info_file.exit_code == 0 and "nafnet" in info_file.stdout

    assert runner.invoke(app, ["verify"]).exit_code == 0
    target = W.find_entry("tiny").path
    target.write_bytes(target.read_bytes()[:-3] + b"xyz")
    bad = runner.invoke(app, ["verify"])
    assert bad.exit_code == 1 and "sha256" in bad.stdout

    assert runner.invoke(app, ["remove", "tiny"]).exit_code == 0
    assert json.loads(runner.invoke(app, ["list", "--json"]).stdout) == []


def test_saved_weights_are_readable_by_others(tmp_path):
    """Exported .safetensors get normal permissions (0666 & ~umask), not mkstemp's 0600."""
    from restore_cli.fsutil import UMASK

    path = tmp_path / "shared.safetensors"
    W.save_weights(path, tiny_nafnet(), "nafnet", TINY)
    assert path.stat().st_mode & 0o777 == 0o666 & ~UMASK
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_inference_module_is_made_once_and_remade_after_changes(tmp_path):
    path = tmp_path / "m.safetensors"
    W.save_weights(path, tiny_nafnet(), "nafnet", TINY)
    loaded = W.load_model(path, task="deblur")
    fast = loaded.inference_module()
    assert fast is not loaded.module and loaded.inference_module() is fast
    x = torch.rand(1, 3, 8, 12)
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), loaded.module(x), atol=1e-4, rtol=0)
    with torch.no_grad():
        for p in loaded.module.parameters():
            p.mul_(1.5)
    remade = loaded.inference_module()
    assert remade is not fast
    with torch.inference_mode():
        torch.testing.assert_close(remade(x), loaded.module(x), atol=1e-4, rtol=0)


def test_loading_and_inference_form_run_on_one_thread_and_restore_the_count(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    W.save_weights(path, tiny_nafnet(), "nafnet", TINY)
    from restore_cli.models import get_arch

    spec = get_arch("nafnet")
    real_build, real_form = spec.build, spec.inference_form
    seen = []

    def build(**hyper):
        seen.append(("build", torch.get_num_threads()))
        return real_build(**hyper)

    def inference_form(module):
        seen.append(("inference form", torch.get_num_threads()))
        return real_form(module)

    import dataclasses

    from restore_cli import models

    watched = dataclasses.replace(spec, build=build, inference_form=inference_form)
    monkeypatch.setattr(models, "get_arch", lambda arch: watched)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        loaded = W.load_model(path, task="deblur")
        assert torch.get_num_threads() == 2
        loaded.inference_module()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert seen == [("build", 1), ("inference form", 1)]
