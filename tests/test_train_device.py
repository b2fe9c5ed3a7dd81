"""`restore train --device` goes through the engine's one device parser: a typo is a usage error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import invoke, stderr_of, write_photo


@pytest.mark.parametrize("task", ["deblur", "colorize"])
def test_typo_in_train_device_is_a_usage_error(cli_runner, tmp_path: Path, task: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        write_photo(data / f"p{i}.png", size=(96, 96))
    out = tmp_path / "w.safetensors"
    args = ["train", task, "--data", data, "--device", "cdua", "--iters", "1", "--out", out]
    result = invoke(cli_runner, *args)
    assert result.exit_code == 2, stderr_of(result)
    assert "unknown device 'cdua'" in stderr_of(result)
    assert not out.exists()
