"""Process settings that make a whole ``restore`` command faster (benchmarks/results/startup.md)."""

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
# 16,384 pages again. With keep_freed_memory() the freed block is reused: no new faults.
_FAULTS = r"""
import resource, sys
from restore_cli.cli import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
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


def test_main_applies_the_allocator_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    import restore_cli.cli as cli
    from restore_cli.cli import common

    calls: list[str] = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append("kept") or True)
    monkeypatch.setattr(cli, "install_signal_handlers", lambda: None)  # this test process keeps its own
    monkeypatch.setattr(common.STATE, "owns_process", False)  # main() sets it; restored after the test
    monkeypatch.setattr(sys, "argv", ["restore", "--version"])
    try:
        with pytest.raises(SystemExit) as done:
            cli.main()
    finally:
        gc.unfreeze()  # main() freezes the heap of the process it owns
    assert done.value.code == 0
    assert calls == ["kept"]
