"""The allocator setting that makes model runs faster (engine.reuse_freed_memory; benchmarks/results/)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="mallopt is glibc's",
)

# Allocates, touches and frees a 64 MiB block three times; prints the page faults of the last two rounds.
# glibc's default serves such a block with its own mmap and unmaps it on free: every round faults its
# 16,384 pages again. With reuse_freed_memory() the freed block is reused: no new faults.
_FAULTS = r"""
import resource, sys
from restore_cli.engine import reuse_freed_memory
applied = reuse_freed_memory() if sys.argv[1] == "keep" else None
def touch():
    block = bytearray(64 << 20)
    block[::4096] = b"\x01" * len(range(0, 64 << 20, 4096))
    del block
touch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
touch()
touch()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str, **env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, "-c", _FAULTS, mode],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    applied, faults = done.stdout.split()
    return applied, int(faults)


@glibc_only
def test_freed_large_blocks_are_reused_without_new_page_faults() -> None:
    applied, faults = _faults("keep")
    assert applied == "True"
    assert faults < 2_000  # two rounds of 16,384 pages each without it
    _, default_faults = _faults("default")
    assert default_faults > 30_000  # the test measures what it claims: glibc's default faults every round


@glibc_only
def test_a_users_malloc_settings_are_left_in_charge() -> None:
    applied, faults = _faults("keep", MALLOC_TRIM_THRESHOLD_="131072")
    assert applied == "False"
    assert faults > 30_000


def test_the_first_engine_applies_the_allocator_setting_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import restore_cli.engine as engine

    made: list[tuple[int, int]] = []

    class FakeMallopt:
        argtypes = restype = None

        def __call__(self, param: int, value: int) -> int:
            made.append((param, value))
            return 1

    class FakeLibc:
        mallopt = FakeMallopt()

    import ctypes

    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_MAX_"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(engine, "_memory_reused", None)
    monkeypatch.setattr(engine.os, "confstr", lambda name: "glibc 2.36")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: FakeLibc())
    engine.Engine(device="cpu")
    engine.Engine(device="cpu")
    assert made == [(-3, 1 << 30), (-1, (1 << 31) - 1)]  # once per process

    made.clear()
    monkeypatch.setattr(engine, "_memory_reused", None)
    monkeypatch.setattr(engine.os, "confstr", lambda name: "musl")
    assert engine.reuse_freed_memory() is False and made == []
