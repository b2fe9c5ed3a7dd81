"""Atomic file writes: the one place that puts a file in place so no reader ever sees half of it.

A temporary file is written in the destination folder (same file system, so the final move is atomic),
flushed and fsynced, given normal permissions (``0o666 & ~umask``; ``mkstemp``'s 0600 would make shared
outputs such as exported weights unreadable to others), then moved over the destination with
``os.replace``. With ``overwrite=False`` it is hard-linked instead, so a file that appeared meanwhile is
never clobbered. On any failure, Ctrl-C and SIGTERM included, the temporary file is removed and the
destination is untouched.

Temporary files are named ``.<name>.restore-XXXXXXXX.tmp`` (a long name is shortened with a hash so the
temporary name stays within the file system's NAME_MAX) and are locked (``flock``) from creation until they
are moved into place. Only SIGKILL or a power cut can leave one behind; the first write into a folder in a
later run removes such leftovers: files of exactly this pattern, not locked by a live writer (a concurrent
run's file stays), and not modified in the last few seconds.

:func:`contained` is the one check for joining a user-supplied name to a folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import BinaryIO

try:  # POSIX only; elsewhere leftovers are recognised by age alone
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _current_umask()
"""The process umask, read once at import (reading it means setting it, which is not thread-safe)."""

TEMP_MARK = ".restore-"
"""What every temporary file name of ours contains, before 8 random characters and ``.tmp``."""
TEMP_PATTERN = re.compile(r"^\..+\.restore-[a-z0-9_]{8}\.tmp$")
"""Our temporary file names (``mkstemp`` fills the 8 characters from ``[a-z0-9_]``)."""
_TEMP_OVERHEAD = len(".") + len(TEMP_MARK) + 8 + len(".tmp")
STALE_AFTER_S = 10.0
"""A leftover younger than this is never removed: it may be a concurrent writer between create and lock."""
STALE_AFTER_UNLOCKED_S = 3600.0
"""Without flock (Windows) only age tells a leftover from a live writer's file."""
_NAME_MAX_DEFAULT = 255

_swept: set[str] = set()
_swept_lock = threading.Lock()


def contained(folder: str | os.PathLike[str], name: str) -> Path:
    """``folder / name`` when ``name`` is a relative path that stays inside ``folder``; ValueError otherwise.

    The check is on the text after normalisation (``..`` that climbs out, absolute paths, drive letters, NUL
    bytes), so a user-supplied name can never point a write or a delete outside the folder meant.
    """
    if not name or "\x00" in name:
        raise ValueError(f"{name!r} is not a usable file name")
    if PurePath(name).anchor:
        raise ValueError(f"{name!r} would lead outside {folder}")
    base = os.path.normpath(os.fspath(folder))
    joined = os.path.normpath(os.path.join(base, name))
    if joined == base or not joined.startswith(base.rstrip(os.sep) + os.sep):
        raise ValueError(f"{name!r} would lead outside {folder}")
    return Path(folder) / name


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (AttributeError, ValueError, OSError):
        return _NAME_MAX_DEFAULT


def temp_prefix(name: str, name_max: int = _NAME_MAX_DEFAULT) -> str:
    """``.<name>.restore-`` for ``mkstemp``; a long name is shortened (plus a hash) to fit ``name_max``."""
    room = name_max - _TEMP_OVERHEAD
    if len(os.fsencode(name)) > room:
        digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:12]
        keep = name
        while keep and len(os.fsencode(keep)) > room - len(digest) - 1:
            keep = keep[:-1]
        name = f"{keep}~{digest}"
    return f".{name}{TEMP_MARK}"


def _lock(descriptor: int) -> bool:
    """Take an exclusive lock without waiting; True when taken (or when locks are unavailable)."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # file systems without locks: fall back to age alone
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove our leftover temporary files in ``folder`` (see the module doc); returns what was removed.

    Best effort: anything that cannot be inspected or removed is left alone, and nothing is raised.
    """
    removed: list[Path] = []
    now = time.time()
    min_age = STALE_AFTER_S if fcntl is not None else STALE_AFTER_UNLOCKED_S
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not TEMP_PATTERN.match(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False) or now - info.st_mtime < min_age:
                continue
            descriptor = os.open(entry.path, os.O_RDWR | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            if _lock(descriptor):  # a live writer holds its lock until the file is in place
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass
        finally:
            os.close(descriptor)
    return removed


def _sweep_once(folder: Path) -> None:
    """Remove leftovers in ``folder`` the first time this process writes there (a folder is scanned once)."""
    key = os.path.abspath(folder)
    with _swept_lock:
        if key in _swept:
            return
        _swept.add(key)
    remove_stale_temps(folder)


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
    _sweep_once(folder)
    prefix = temp_prefix(destination.name, _name_max(folder))
    descriptor, temp_name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    temp_path = Path(temp_name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            _lock(handle.fileno())  # held until the file is in place: a later run's sweep leaves it alone
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
