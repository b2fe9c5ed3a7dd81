"""Atomic file writes: the one place that puts a file in place so no reader ever sees half of it.

A temporary file is written in the destination folder (same file system, so the final move is atomic),
flushed and fsynced, given normal permissions (``0o666 & ~umask``; ``mkstemp``'s 0600 would make shared
outputs such as exported weights unreadable to others), then moved over the destination with
``os.replace``. With ``overwrite=False`` it is hard-linked instead, so a file that appeared meanwhile is
never clobbered. On any failure, Ctrl-C included, the temporary file is removed and the destination is
untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _current_umask()
"""The process umask, read once at import (reading it means setting it, which is not thread-safe)."""


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str | Callable[[BinaryIO], object],
    *,
    overwrite: bool = True,
) -> Path:
    """Write ``data`` (bytes, UTF-8 text, or a function that writes to a binary file) to ``path`` atomically.

    Missing parent folders are created. With ``overwrite=False`` an existing destination raises
    ``FileExistsError`` (also when it appears while writing). Other failures raise what the OS or
    ``data`` raised; the temporary file is always removed. Returns the destination path.
    """
    destination = Path(path)
    folder = destination.parent
    folder.mkdir(parents=True, exist_ok=True)
    if not overwrite and destination.exists():
        raise FileExistsError(f"{destination} already exists")
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".tmp", dir=folder)
    temp_path = Path(temp_name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            if isinstance(data, str):
                handle.write(data.encode("utf-8"))
            elif isinstance(data, (bytes, bytearray, memoryview)):
                handle.write(data)
            else:
                data(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_path, 0o666 & ~UMASK)
        _move_into_place(temp_path, destination, overwrite)
    except BaseException:
        with contextlib.suppress(OSError):
            temp_path.unlink()
        raise
    return destination


def _move_into_place(temp_path: Path, destination: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(temp_path, destination)
        return
    try:
        os.link(temp_path, destination)  # fails if the destination appeared meanwhile: never clobber
    except FileExistsError:
        raise
    except OSError:
        if destination.exists():
            raise FileExistsError(f"{destination} already exists") from None
        os.replace(temp_path, destination)  # file systems without hard links
        return
    temp_path.unlink()
