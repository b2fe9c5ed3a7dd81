"""One image through standard input and/or standard output: ``cat a.jpg | restore deblur - -o - > b.png``.

Rules (checked by :func:`check_stream` before any model loads):

- ``-`` as an input means standard input; it must be the only input, and needs ``-o FILE`` or ``-o -``
  (there is no file to write beside).
- ``-o -`` means standard output, for exactly one image (a file or standard input). The image is encoded
  in ``--format`` (png by default; ``same`` keeps the input's format when it can be written). Result lines
  then go to standard error, and ``--json`` (which also wants standard output) is refused.
- The image is read whole into memory, with the same limits and decoder as files
  (:func:`restore_cli.io.read_image_bytes`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from restore_cli.batch import FAILED, OK, SKIPPED, BatchRecord, BatchResult, _processed
from restore_cli.errors import BadImageError, RestoreError, UsageError

STDIO = "-"

_FORMAT_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "TIFF": "tiff"}


def wants_stream(inputs: Sequence[str], output: str | None) -> bool:
    """True when standard input or output is involved (``-`` as an input or as ``-o``)."""
    return STDIO in [str(i) for i in inputs] or output == STDIO


def check_stream(
    inputs: Sequence[str],
    output: str | None,
    *,
    json_output: bool,
    overwrite: bool = False,
    skip_existing: bool = False,
) -> None:
    """Usage errors for ``-``, and an output file that would be refused, found before any model loads (as
    :func:`restore_cli.batch.plan` does for files); see the module's rules."""
    names = [str(i) for i in inputs]
    if STDIO in names and len(names) != 1:
        raise UsageError("- (standard input) must be the only input; process files in a separate run")
    if names == [STDIO] and output is None:
        raise UsageError("reading standard input needs an output: -o FILE, or -o - for standard output")
    if output == STDIO:
        if len(names) != 1 or (names[0] != STDIO and not Path(names[0]).expanduser().is_file()):
            raise UsageError("-o - (standard output) takes exactly one image file, or - (standard input)")
        if json_output:
            raise UsageError("--json and -o - both write to standard output; drop one of them")
    if output is not None and output != STDIO:
        from restore_cli.io import SUPPORTED_OUTPUT_FORMATS

        target = Path(output).expanduser()
        if target.is_dir():
            raise UsageError(f"{output}: is a folder; with - (standard input) give an output file name")
        ext = target.suffix.lower().lstrip(".")
        if ext not in SUPPORTED_OUTPUT_FORMATS:
            allowed = ", ".join(f".{e}" for e in SUPPORTED_OUTPUT_FORMATS)
            raise UsageError(f"{output}: cannot write .{ext}; use one of {allowed}")
        if (target.exists() or target.is_symlink()) and not (overwrite or skip_existing):
            raise BadImageError("already exists; pass --overwrite to replace it (or --skip-existing)", target)


def _stdout_extension(fmt: str, image: Any, source: str) -> str:
    fmt = fmt.lower().lstrip(".")
    if fmt != "same":
        return {"jpeg": "jpg", "tif": "tiff"}.get(fmt, fmt)
    ext = _FORMAT_EXTENSIONS.get(str(image.format or "").upper())
    if ext is None:
        raise BadImageError(
            f"--format same cannot write {image.format or 'this format'}; use --format png, jpg, webp, tiff",
            source,
        )
    return ext


def run_stream(
    source: str,
    output: str,
    process: Callable[[Any], Any],
    *,
    fmt: str = "png",
    read_kwargs: dict[str, Any] | None = None,
    write_kwargs: dict[str, Any] | None = None,
    skip_existing: bool = False,
    on_progress: Callable[[BatchRecord], None] | None = None,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
) -> BatchResult:
    """Read one image (a file, or standard input for ``-``), ``process`` it and write it (a file, or standard
    output for ``-``). Failures become a failed record, and ``on_progress`` sees the one record, as in
    :func:`restore_cli.batch.run_batch`."""
    result = BatchResult()
    record = _run(source, output, process, fmt, dict(read_kwargs or {}), dict(write_kwargs or {}),
                  skip_existing, stdin, stdout)  # fmt: skip
    result.records.append(record)
    if on_progress is not None:
        on_progress(record)
    return result


def _run(
    source: str,
    output: str,
    process: Callable[[Any], Any],
    fmt: str,
    read_kwargs: dict[str, Any],
    write_kwargs: dict[str, Any],
    skip_existing: bool,
    stdin: BinaryIO | None,
    stdout: BinaryIO | None,
) -> BatchRecord:
    from restore_cli import io

    label = "<stdin>" if source == STDIO else source
    target = "<stdout>" if output == STDIO else output
    if output != STDIO and skip_existing and Path(output).expanduser().exists():
        return BatchRecord(label, target, SKIPPED, "output exists")
    started = time.perf_counter()
    size: list[int] | None = None
    try:
        if source == STDIO:
            data = (stdin or sys.stdin.buffer).read()
            image = io.read_image_bytes(data, label, **read_kwargs)
        else:
            image = io.read_image(Path(source).expanduser(), **read_kwargs)
        size = [int(image.pixels.shape[1]), int(image.pixels.shape[0])]
        if output == STDIO:
            extension = _stdout_extension(fmt, image, label)
            io.check_writable(image, target, extension)
        else:
            io.check_writable(image, Path(output).expanduser())
        restored, steps = _processed(process(image), Path(label))
        if output == STDIO:
            options = {k: v for k, v in write_kwargs.items() if k in ("keep_metadata", "quality")}
            payload = io.encode_image(restored, extension, name=target, **options)
            sink = stdout or sys.stdout.buffer
            sink.write(payload)
            sink.flush()
        else:
            io.write_image(restored, Path(output).expanduser(), **write_kwargs)
    except RestoreError as err:
        message = " ".join(str(err).split())
        return BatchRecord(label, target, FAILED, message, time.perf_counter() - started, size, exception=err)
    return BatchRecord(label, target, OK, "", time.perf_counter() - started, size, steps)


__all__ = ["STDIO", "check_stream", "run_stream", "wants_stream"]
