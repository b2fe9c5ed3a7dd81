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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from restore_cli.batch import SKIPPED, BatchRecord, Run, output_extension, run_one
from restore_cli.choices import OUTPUT_FORMATS
from restore_cli.errors import BadImageError, UsageError

STDIO = "-"


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
    fmt = output_extension(fmt)
    if fmt != "same":
        return fmt
    from restore_cli.io import SUPPORTED_OUTPUT_FORMATS

    written = str(image.format or "").upper()
    formats = SUPPORTED_OUTPUT_FORMATS.items()
    ext = next((e for e, name in formats if name == written and e in OUTPUT_FORMATS), None)
    if ext is None:
        raise BadImageError(
            f"--format same cannot write {image.format or 'this format'}; use --format png, jpg, webp, tiff",
            source,
        )
    return ext


def run(
    source: str,
    output: str,
    process: Callable[[Any], Any],
    *,
    fmt: str = "png",
    read_kwargs: dict[str, Any] | None = None,
    write_kwargs: dict[str, Any] | None = None,
    skip_existing: bool = False,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
) -> Run:
    """One image as a :class:`restore_cli.batch.Run`: read it (a file, or standard input for ``-``),
    ``process`` it and write it (a file, or standard output for ``-``) through the batch's one job runner,
    so failures, Ctrl-C and the record are those of :func:`restore_cli.batch.run`."""
    from restore_cli import io

    reading, writing = dict(read_kwargs or {}), dict(write_kwargs or {})
    label = "<stdin>" if source == STDIO else source
    target = "<stdout>" if output == STDIO else output

    def read() -> Any:
        if source == STDIO:
            return io.read_image_bytes((stdin or sys.stdin.buffer).read(), label, **reading)
        return io.read_image(Path(source).expanduser(), **reading)

    def check(image: Any) -> None:
        if output == STDIO:
            io.check_writable(image, target, _stdout_extension(fmt, image, label))
        else:
            io.check_writable(image, Path(output).expanduser())

    def write(image: Any) -> None:
        if output != STDIO:
            io.write_image(image, Path(output).expanduser(), **writing)
            return
        options = {k: v for k, v in writing.items() if k in ("keep_metadata", "quality")}
        payload = io.encode_image(image, _stdout_extension(fmt, image, label), name=target, **options)
        sink = stdout or sys.stdout.buffer
        sink.write(payload)
        sink.flush()

    def attempts() -> Iterator[tuple[BatchRecord, bool]]:
        if output != STDIO and skip_existing and Path(output).expanduser().exists():
            yield BatchRecord(label, target, SKIPPED, "output exists"), True
            return
        yield run_one(label, target, read=read, check=check, process=process, write=write)

    return Run(attempts())


__all__ = ["STDIO", "check_stream", "run", "wants_stream"]
