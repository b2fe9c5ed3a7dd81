"""restore: deblur and colorize photos with small, fast models.

The public API is re-exported lazily so that ``import restore_cli`` does not import torch.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "deblur": "restore_cli.tasks",
    "colorize": "restore_cli.tasks",
    "Pipeline": "restore_cli.tasks",
    "Restorer": "restore_cli.restorer",
    "inspect_image": "restore_cli.tasks",
    "load_model": "restore_cli.weights",
    "read_image": "restore_cli.io",
    "write_image": "restore_cli.io",
    "Image": "restore_cli.io",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'restore_cli' has no attribute {name!r}")
