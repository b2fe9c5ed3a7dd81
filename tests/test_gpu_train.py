"""scripts/gpu_train.py: packing within the transfer limit, val crops that keep validation exact, the call."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from restore_cli.data.validation import center_crop, kernel_val_set
from restore_cli.io import write_rgb8

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu_train.py"


@pytest.fixture(scope="module")
def gpu_train():
    spec = importlib.util.spec_from_file_location("gpu_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_train"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("gpu_train", None)


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x % 97 * 2.5, y % 71 * 3.5, (x + y) % 50 * 5.0], -1) + rng.uniform(0, 60, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _data_root(tmp_path: Path, n_train: int = 8) -> Path:
    root = tmp_path / "data"
    for i in range(n_train):
        write_rgb8(_photo(120 + 7 * i, 150 + 3 * i, i), root / "train" / "set" / f"p{i:02d}.png")
        write_rgb8(_photo(100, 130, 50 + i), root / "train-color" / "c" / f"c{i:02d}.png")
    for i, (h, w) in enumerate([(101, 140), (120, 121), (90, 90)]):
        write_rgb8(_photo(h, w, 100 + i), root / "val" / f"v{i}.png")
    (root / "kernels").mkdir()
    k = np.zeros((9, 9), np.float32)
    k[4, 1:8] = 1 / 7
    np.save(root / "kernels" / "k1.npy", k)
    return root


@pytest.mark.parametrize("shape", [(101, 140), (120, 121), (321, 481), (90, 90)])
def test_parity_crop_keeps_every_centre_crop(gpu_train, shape) -> None:
    img = _photo(*shape, 0)
    pre = gpu_train.parity_crop(img, 84)
    assert max(pre.shape[:2]) <= 85
    for size in (32, 48, 64, 70):
        for multiple in (1, 16):
            assert np.array_equal(center_crop(pre, size, multiple), center_crop(img, size, multiple))


def test_val_crops_give_the_same_validation_set(gpu_train, tmp_path: Path, monkeypatch) -> None:
    root = _data_root(tmp_path)
    init = tmp_path / "init.safetensors"
    init.write_bytes(b"x" * 1000)
    monkeypatch.setattr(gpu_train, "VAL_SIZE", 48)  # the trainer's 256, scaled to the small test photos
    packed = gpu_train.pack("deblur", root, tmp_path / "pack", init, limit=64 * 2**20, tracked=0)
    want = kernel_val_set(root / "val", root / "kernels", size=48)
    got = kernel_val_set(packed.folder / "data" / "val", packed.folder / "data" / "kernels", size=48)
    for a, b in zip(want.blurred + want.sharp, got.blurred + got.sharp):
        assert np.array_equal(a, b)


def test_pack_fits_the_limit_by_quality_then_by_dropping_photos(gpu_train, tmp_path: Path) -> None:
    root = _data_root(tmp_path)
    init = tmp_path / "init.safetensors"
    init.write_bytes(b"x" * 1000)
    roomy = gpu_train.pack("deblur", root, tmp_path / "a", init, limit=64 * 2**20, tracked=0)
    assert roomy.photos == roomy.photos_total == 8 and roomy.quality == 95
    assert (roomy.folder / "init.safetensors").read_bytes() == init.read_bytes()
    train_bytes = sum(p.stat().st_size for p in (roomy.folder / "data" / "train").rglob("*.jpg"))
    others = roomy.data_bytes - train_bytes
    # A limit that holds about half the q95 photos: quality drops first, then photos are dropped evenly.
    limit = gpu_train.SAFETY + others + train_bytes // 2
    tight = gpu_train.pack("deblur", root, tmp_path / "b", init, limit=limit, tracked=0)
    assert tight.travel_bytes <= limit - gpu_train.SAFETY
    assert tight.quality == gpu_train.QUALITIES[-1] or tight.photos == 8
    assert 1 <= tight.photos <= 8
    record = json.loads((tight.folder / "pack.json").read_text())
    assert record["photos"] == tight.photos and record["travel_bytes"] == tight.travel_bytes
    with pytest.raises(SystemExit):
        gpu_train.pack("deblur", root, tmp_path / "c", init, limit=gpu_train.SAFETY + 100, tracked=0)


def test_colorize_pack_takes_both_folders_at_training_scale(gpu_train, tmp_path: Path, monkeypatch) -> None:
    root = _data_root(tmp_path)
    init = tmp_path / "init.safetensors"
    init.write_bytes(b"x")
    monkeypatch.setattr(gpu_train, "COLOR_SHORT_SIDE", 64)
    packed = gpu_train.pack("colorize", root, tmp_path / "p", init, limit=64 * 2**20, tracked=0)
    files = sorted((packed.folder / "data" / "train").rglob("*.jpg"))
    assert packed.photos == 16 and {f.parent.parent.name for f in files} == {"train", "train-color"}
    from restore_cli.io import read_rgb8

    assert all(min(read_rgb8(f).shape[:2]) == 64 for f in files)
    assert not (packed.folder / "data" / "kernels").exists()


def test_device_call_fits_one_command(gpu_train) -> None:
    call = gpu_train.device_call("deblur", 500)
    assert call["carry"] == [".device"] and call["timeout_s"] <= 600
    assert "--task deblur" in call["command"] and len(call["command"]) < 2000


def test_bench_rows_are_matched_by_weights_file_and_ship_updates_the_manifest(
    gpu_train, tmp_path: Path
) -> None:
    from restore_cli.weights import sha256_file

    report = {
        "records": [
            {"row": "baseline (input)", "weights": None, "psnr": 19.9},
            {"row": "nafnet-w16-deblur", "weights": str(tmp_path / "w" / "a.safetensors"), "psnr": 20.4},
            {"row": "candidate-a", "weights": str(tmp_path / "c" / "candidate-a.safetensors"), "psnr": 21.4},
        ]
    }
    psnr = gpu_train.psnr_by_weights(report)
    assert psnr == {
        str((tmp_path / "w" / "a.safetensors").resolve()): 20.4,
        str((tmp_path / "c" / "candidate-a.safetensors").resolve()): 21.4,
    }
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "a.safetensors").write_bytes(b"old")
    manifest = {
        "version": 1,
        "weights": [{"name": "a", "file": "a.safetensors", "sha256": "x", "size_bytes": 3}],
    }
    (weights / "manifest.json").write_text(json.dumps(manifest))
    candidate = tmp_path / "new.safetensors"
    candidate.write_bytes(b"newer bytes")
    target = gpu_train.ship(candidate, "a", weights)
    entry = json.loads((weights / "manifest.json").read_text())["weights"][0]
    assert target.read_bytes() == b"newer bytes"
    assert entry["sha256"] == sha256_file(target) and entry["size_bytes"] == len(b"newer bytes")


def test_tracked_init_travels_by_name_and_jpeg_originals_keep_their_bytes(gpu_train, tmp_path: Path) -> None:
    import cv2

    root = _data_root(tmp_path, n_train=2)
    photo = _photo(90, 120, 9)
    ok, buf = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 60])
    (root / "train" / "set" / "small.jpg").write_bytes(buf.tobytes())
    shipped = gpu_train.REPO / "weights" / "nafnet-w16-deblur.safetensors"
    packed = gpu_train.pack("deblur", root, tmp_path / "p", shipped, limit=64 * 2**20, tracked=0)
    assert not (packed.folder / "init.safetensors").exists()
    assert gpu_train.init_file(packed.folder) == shipped
    assert (packed.folder / "data" / "train" / "train" / "set" / "small.jpg").read_bytes() == buf.tobytes()
