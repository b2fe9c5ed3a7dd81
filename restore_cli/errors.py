"""One exception root for everything the tool reports to users.

Each message says what happened, to which file, and what to do. The CLI maps these to exit codes; a
traceback is shown only with ``--debug``.
"""

from __future__ import annotations

from pathlib import Path


class RestoreError(Exception):
    """Base of every error restore reports to a user (exit code 1 unless a subclass says otherwise)."""

    exit_code = 1

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class UsageError(RestoreError):
    """Bad options or arguments, found before any model is loaded (exit code 2)."""

    exit_code = 2


class BadImageError(RestoreError):
    """An input image cannot be decoded, or an output cannot be encoded/written."""


class BadWeightsError(RestoreError):
    """A weights file is missing, corrupt, of the wrong architecture, or fails its sha256 check."""


class UnknownModelError(RestoreError):
    """A model or architecture name that the registry or manifest does not know."""


class NoDefaultWeightsError(BadWeightsError):
    """No weights are shipped or set as default for a task."""


class OutOfMemoryError(RestoreError):
    """The device ran out of memory even at the smallest tile size."""


def one_line(text: object) -> str:
    """``text`` on one line (newlines and runs of spaces become one space): every message shown to a user."""
    return " ".join(str(text).split())
