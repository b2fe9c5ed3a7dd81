"""The one atomic-write helper: permissions, no-overwrite, and cleanup on every kind of failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from restore_cli.fsutil import UMASK, atomic_write


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_bytes_text_and_writer_function(tmp_path: Path) -> None:
    atomic_write(tmp_path / "sub" / "a.bin", b"\x00\x01")
    atomic_write(tmp_path / "b.txt", "héllo")
    atomic_write(tmp_path / "c.bin", lambda handle: handle.write(b"xyz"))
    assert (tmp_path / "sub" / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "héllo"
    assert (tmp_path / "c.bin").read_bytes() == b"xyz"
    assert _leftovers(tmp_path) == []


def test_normal_permissions_not_mkstemp_0600(tmp_path: Path) -> None:
    out = atomic_write(tmp_path / "w.safetensors", b"data")
    assert out.stat().st_mode & 0o777 == 0o666 & ~UMASK


def test_overwrite_false_refuses_and_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "x.png"
    target.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        atomic_write(target, b"new", overwrite=False)
    assert target.read_bytes() == b"old"
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    atomic_write(tmp_path / "fresh.png", b"n", overwrite=False)
    assert (tmp_path / "fresh.png").read_bytes() == b"n"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_removes_temp_and_leaves_destination(tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "ckpt.pt"
    target.write_bytes(b"previous")

    def half_then_fail(handle) -> None:
        handle.write(b"partial")
        raise error

    with pytest.raises(type(error)):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"previous"
    assert _leftovers(tmp_path) == []
