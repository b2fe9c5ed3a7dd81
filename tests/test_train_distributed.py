"""Distributed training with torchrun: 2 CPU processes (gloo) on a tiny model for a few iterations."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        assert cv2.imwrite(str(photos / f"{i}.png"), rng.integers(0, 255, (48, 48, 3), dtype=np.uint8))
    out = tmp_path / "w.safetensors"
    hyper = {"width": 4, "enc_blocks": [1], "middle_blocks": 1, "dec_blocks": [1]}
    cmd = [
        torchrun, "--standalone", "--nproc_per_node=2", "-m", "restore_cli", "train", "deblur",
        "--data", str(photos), "--iters", "3", "--patch", "16", "--batch", "2", "--workers", "0",
        "--hyper", json.dumps(hyper), "--out", str(out), "--quiet", "--device", "cpu", "--threads", "1",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=240, env=env, cwd=Path(__file__).parents[1]
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summaries = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert summaries and all(s["iteration"] == 3 for s in summaries)
    assert out.is_file()
    import torch

    ckpt = torch.load(tmp_path / "w.ckpt.pt", weights_only=True)
    assert ckpt["data_pos"] == 3 * 2 * 2  # iterations x batch x processes: each process read its own share
