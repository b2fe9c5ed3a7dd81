"""Many images in one run: expand inputs, plan output paths, then process each image on its own.

One contract: the commands' options become one :class:`BatchOptions` (checked when made), :func:`plan` turns
them into :class:`Job` s, :func:`run` yields one :class:`BatchRecord` per job as it is done (the caller
prints them; nothing here calls back) and keeps the :class:`BatchResult` (records, counts and the exit code).
Three steps, so that every usage error is found before a model loads:

1. :func:`expand_inputs` turns files, folders and globs into :class:`InputItem` s. A path that does not exist
   becomes an item carrying its error (reported with the others, never an exception); a folder contributes
   its image files (by extension, sorted, hidden files skipped; subfolders with ``recursive``) and is
   remembered as the base of a tree to mirror.
2. :func:`plan_outputs` picks one output per input (:class:`Job`). Output equal to any input, or two inputs
   sharing one output, is a :class:`UsageError`; an existing output fails that job unless ``overwrite``
   (replace) or ``skip_existing`` (skip).
3. :func:`run` reads, processes and writes each job through :func:`run_one` (the one job runner, which
   :mod:`restore_cli.stream` shares; writes are atomic in ``io``); a failing image is recorded and the next
   one starts (a weights file that cannot load stops the run: it is no image's fault). Ctrl-C abandons
   the current image (no partial file is left) and ends the run with its result marked ``interrupted``
   (exit code 130), so the caller can print a summary; re-running with ``skip_existing`` finishes the rest.
"""

from __future__ import annotations

import glob
import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restore_cli.choices import IMAGE_EXTENSIONS, OUTPUT_FORMATS
from restore_cli.errors import BadImageError, BadWeightsError, RestoreError, UsageError, one_line
from restore_cli.fsutil import contained

_GLOB_CHARS = frozenset("*?[")

# Job and record statuses.
PENDING, OK, SKIPPED, FAILED = "pending", "ok", "skipped", "failed"

INTERRUPTED_EXIT = 130
"""The exit code of a run stopped by Ctrl-C (128 + SIGINT); the CLI's root group turns it into 143 or 129
when SIGTERM or SIGHUP stopped it."""


def read_kwargs(max_pixels: int | None, max_side: int | None, frame: int | None) -> dict[str, Any]:
    """Keyword arguments for ``io.read_image``; unset limits keep io's defaults."""
    kwargs: dict[str, Any] = {"frame": frame}
    if max_pixels is not None:
        kwargs["max_pixels"] = max_pixels
    if max_side is not None:
        kwargs["max_side"] = max_side
    return kwargs


@dataclass(frozen=True)
class BatchOptions:
    """The input, output and limit options of an image command, checked when made (UsageError, exit 2)."""

    inputs: tuple[str, ...]
    recursive: bool = False
    output: str | None = None
    """A file (one input) or a folder; ``-`` is standard output (see :mod:`restore_cli.stream`)."""
    suffix: str = "_deblurred"
    fmt: str = "png"
    overwrite: bool = False
    skip_existing: bool = False
    quality: int = 95
    strip_metadata: bool = False
    max_pixels: int | None = None
    max_side: int | None = None
    frame: int | None = None

    def __post_init__(self) -> None:
        if self.overwrite and self.skip_existing:
            raise UsageError("--overwrite and --skip-existing contradict each other; choose one")
        if not 1 <= self.quality <= 100:
            raise UsageError(f"--quality {self.quality} is out of range; use 1 (smallest file) to 100 (best)")
        if not self.inputs:
            raise UsageError("no inputs given; pass image files, folders or globs")

    @property
    def read_kwargs(self) -> dict[str, Any]:
        return read_kwargs(self.max_pixels, self.max_side, self.frame)

    @property
    def write_kwargs(self) -> dict[str, Any]:
        keep_metadata = not self.strip_metadata
        return {"overwrite": self.overwrite, "keep_metadata": keep_metadata, "quality": self.quality}


@dataclass
class InputItem:
    """One input image: its path, the folder it was found under (for mirroring), or the error it carries."""

    path: Path
    base: Path | None = None
    """The folder or glob root given by the user; outputs mirror ``path`` relative to it. None for files."""
    error: RestoreError | None = None
    explicit: bool = False
    """True when the user named this file directly (not found through a folder or a glob)."""

    @property
    def input(self) -> str:
        return str(self.path)

    @property
    def relative(self) -> Path:
        """The path under ``base`` (just the file name for files named directly)."""
        if self.base is None:
            return Path(self.path.name)
        try:
            return self.path.relative_to(self.base)
        except ValueError:
            return Path(self.path.name)


@dataclass
class Job:
    """An input with its planned output; ``status`` is pending, or already skipped / failed by the plan."""

    input: Path
    output: Path | None
    status: str = PENDING
    message: str = ""
    error: RestoreError | None = None

    @property
    def pending(self) -> bool:
        """True when the image still needs processing (not skipped or failed by the plan)."""
        return self.status == PENDING


@dataclass
class BatchRecord:
    """What happened to one image; ``to_dict()`` is the ``--json`` record."""

    input: str
    output: str | None
    status: str
    message: str = ""
    seconds: float = 0.0
    size: list[int] | None = None
    """``[width, height]`` of the input, when it was read."""
    steps: list[str] | None = None
    """What ran on a written image (``deblur``, ``colorize``, or ``unchanged``); None when not processed."""
    exception: BaseException | None = field(default=None, repr=False, compare=False)
    """Why it failed, for ``--debug`` tracebacks (not part of ``to_dict()``)."""
    traceback: str | None = field(default=None, repr=False, compare=False)
    """The formatted traceback of the failure, taken where it was caught (``exception`` keeps none: see
    ``_detached``)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "status": self.status,
            "steps": list(self.steps) if self.steps is not None else None,
            "message": self.message,
            "seconds": round(self.seconds, 4),
            "size": list(self.size) if self.size is not None else None,
        }


@dataclass
class BatchResult:
    """All records of a run, in input order; ``interrupted`` when Ctrl-C stopped it early.

    The counts and :attr:`exit_code` are what a caller reports: it never recounts the records.
    """

    records: list[BatchRecord] = field(default_factory=list)
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(1 for record in self.records if record.status == status)

    @property
    def ok(self) -> int:
        return self.count(OK)

    @property
    def skipped(self) -> int:
        return self.count(SKIPPED)

    @property
    def failed(self) -> int:
        return self.count(FAILED)

    @property
    def exit_code(self) -> int:
        """130 when the run was interrupted, else 1 when any image failed, else 0 (written or skipped)."""
        if self.interrupted:
            return INTERRUPTED_EXIT
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": [record.to_dict() for record in self.records],
            "ok": self.ok,
            "skipped": self.skipped,
            "failed": self.failed,
            "interrupted": self.interrupted,
        }


# ------------------------------------------------------------------------------------------------ inputs


def _is_image_file(path: Path) -> bool:
    if path.suffix.lower() not in IMAGE_EXTENSIONS or path.name.startswith("."):
        return False
    try:
        return path.is_file()
    except OSError:  # cannot even stat it (no search permission): reading it will fail and say why
        return True


def _folder_images(folder: Path, recursive: bool) -> tuple[list[Path], list[InputItem]]:
    """Image files in ``folder`` (and below with ``recursive``), sorted, skipping hidden files and folders.

    Also returns one failed item per folder that cannot be listed (e.g. no read permission): a folder the
    user asked for is never skipped silently.
    """
    found: list[Path] = []
    unreadable: list[InputItem] = []

    def onerror(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else folder
        reason = exc.strerror or type(exc).__name__
        err = BadImageError(f"cannot read this folder ({reason}); its images were not processed", where)
        unreadable.append(InputItem(where, base=folder, error=err))

    for root, dirs, files in os.walk(folder, onerror=onerror, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        found.extend(p for p in (Path(root) / name for name in files) if _is_image_file(p))
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix()), unreadable


def _glob_root(pattern: str) -> Path:
    """The leading folders of a glob pattern that contain no wildcard (the base of the mirrored tree)."""
    parts = Path(pattern).parts
    static: list[str] = []
    for part in parts[:-1]:
        if _GLOB_CHARS & set(part):
            break
        static.append(part)
    return Path(*static) if static else Path(".")


def expand_inputs(inputs: Iterable[str | os.PathLike[str]], recursive: bool = False) -> list[InputItem]:
    """Files, folders and globs -> one item per image, in the order given (each folder and glob sorted).

    A missing path, or a glob matching no image, becomes an item with ``error`` set. The same file reached
    twice is kept once.
    """
    items: list[InputItem] = []
    seen: set[str] = set()

    def add(item: InputItem) -> None:
        key = _key(item.path) if item.error is None else f"error:{item.path}"
        if key not in seen:
            seen.add(key)
            items.append(item)

    for raw in inputs:
        text = os.fspath(raw)
        path = Path(text).expanduser()
        try:
            is_dir, is_file, exists = path.is_dir(), path.is_file(), path.exists()
        except OSError as exc:  # e.g. a parent folder without search permission
            reason = exc.strerror or type(exc).__name__
            add(InputItem(path, error=BadImageError(f"cannot access ({reason}); check permissions", path)))
            continue
        if is_dir:
            found_images, unreadable = _folder_images(path, recursive)
            for found in found_images:
                add(InputItem(found, base=path))
            for item in unreadable:
                add(item)
        elif is_file:
            add(InputItem(path, explicit=True))
        elif _GLOB_CHARS & set(text):
            root = _glob_root(os.path.expanduser(text))
            matches = sorted(glob.glob(os.path.expanduser(text), recursive=recursive))
            files = [Path(m) for m in matches if _is_image_file(Path(m))]
            folders = [Path(m) for m in matches if Path(m).is_dir()]
            unreadable: list[InputItem] = []
            for folder in folders:
                found_images, bad_folders = _folder_images(folder, recursive)
                files.extend(found_images)
                unreadable.extend(bad_folders)
            for item in unreadable:
                add(item)
            if not files and not unreadable:
                add(InputItem(path, error=BadImageError("no image files match this pattern", text)))
            for found in files:
                add(InputItem(found, base=root))
        elif exists:
            add(InputItem(path, error=BadImageError("is not a regular file; give an image file", path)))
        else:
            add(InputItem(path, error=BadImageError("does not exist; check the path", path)))
    return items


def _key(path: Path) -> str:
    """A comparison key for paths that name the same file (absolute, symlinks resolved, case per OS)."""
    try:
        resolved = path.resolve(strict=False)
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        resolved = Path(os.path.abspath(path))
    return os.path.normcase(str(resolved))


# ----------------------------------------------------------------------------------------------- outputs


def output_extension(fmt: str) -> str:
    """The one spelling of an output format: lower case, no dot, ``jpeg`` -> ``jpg``, ``tif`` -> ``tiff``."""
    fmt = (fmt or "png").lower().lstrip(".")
    return {"jpeg": "jpg", "tif": "tiff"}.get(fmt, fmt)


def _extension(item: InputItem, fmt: str) -> str:
    if fmt != "same":
        return fmt
    from restore_cli.io import SUPPORTED_OUTPUT_FORMATS

    ext = item.path.suffix.lower().lstrip(".")
    if ext not in SUPPORTED_OUTPUT_FORMATS:
        raise BadImageError(
            f"--format same cannot write .{ext or '(none)'}; use --format png, jpg, webp or tiff", item.path
        )
    return ext


def _output_is_file(items: list[InputItem], output: str) -> bool:
    """-o names a file for exactly one directly named input, unless it is a folder or looks like one."""
    if len(items) != 1 or not items[0].explicit:
        return False
    path = Path(output).expanduser()
    if output.endswith(("/", os.sep)) or path.is_dir():
        return False
    return bool(path.suffix)


def plan_outputs(
    items: list[InputItem],
    output: str | os.PathLike[str] | None = None,
    suffix: str = "_deblurred",
    fmt: str = "png",
    overwrite: bool = False,
    skip_existing: bool = False,
) -> list[Job]:
    """One job per item: where its output goes, and whether it is skipped or already failed.

    Default: ``<stem><suffix>.<fmt>`` beside the input. ``output`` is a file for one directly named input
    (its extension picks the format), otherwise a folder under which each folder input's tree is mirrored.
    Raises UsageError when an output would be an input or two inputs would share an output.
    """
    fmt = output_extension(fmt)
    if fmt not in OUTPUT_FORMATS:
        raise UsageError(f"unknown output format {fmt!r}; use {', '.join(OUTPUT_FORMATS)}")
    if overwrite and skip_existing:
        raise UsageError("--overwrite and --skip-existing contradict each other; choose one")
    if os.sep in suffix or "/" in suffix:
        raise UsageError(f"--suffix {suffix!r} must not contain a path separator")
    output_text = os.fspath(output) if output is not None else None
    if output_text is not None and not output_text.strip():
        # An unset shell variable (-o "$OUT") must not scatter outputs into the current folder.
        raise UsageError("-o/--output is empty; give an output file or folder, or leave -o out")
    output_file = output_text is not None and _output_is_file(items, output_text)
    if output_file:
        from restore_cli.io import SUPPORTED_OUTPUT_FORMATS

        ext = Path(output_text).suffix.lower().lstrip(".")
        if ext not in SUPPORTED_OUTPUT_FORMATS:
            raise UsageError(
                f"{output_text}: cannot write .{ext}; use one of "
                + ", ".join(f".{e}" for e in SUPPORTED_OUTPUT_FORMATS)
            )
    elif output_text is not None and Path(output_text).expanduser().is_file():
        raise UsageError(f"{output_text}: is a file, but several inputs need an output folder; give a folder")

    def earlier_output(item: InputItem) -> bool:
        # A folder run beside its own earlier outputs must not restore them again (x_deblurred_deblurred).
        return bool(suffix) and not item.explicit and item.path.stem.endswith(suffix)

    inputs = {_key(item.path): item.path for item in items if item.error is None and not earlier_output(item)}
    claimed: dict[str, Path] = {}
    jobs: list[Job] = []
    for item in items:
        if item.error is not None:
            jobs.append(Job(item.path, None, FAILED, str(item.error), item.error))
            continue
        if earlier_output(item):
            message = f"looks like an earlier output (name ends with {suffix!r}); name the file to process it"
            jobs.append(Job(item.path, None, SKIPPED, message))
            continue
        try:
            ext = _extension(item, fmt)
        except RestoreError as err:
            jobs.append(Job(item.path, None, FAILED, str(err), err))
            continue
        name = f"{item.path.stem}{suffix}.{ext}"
        if output_file:
            destination = Path(output_text).expanduser()
        elif output_text is not None:
            try:  # a glob such as 'a/*/../../x.png' must not lead outside the output folder
                relative = (item.relative.parent / name).as_posix()
                destination = contained(Path(output_text).expanduser(), relative)
            except ValueError:
                err = BadImageError(
                    f"its path relative to {item.base} leads outside -o {output_text}; name it directly",
                    item.path,
                )
                jobs.append(Job(item.path, None, FAILED, str(err), err))
                continue
        else:
            destination = item.path.parent / name
        key = _key(destination)
        if key in inputs:
            raise UsageError(
                f"{destination}: the output would replace the input {inputs[key]}; inputs are never "
                "overwritten: choose another --suffix, --format or -o"
            )
        if key in claimed:
            raise UsageError(
                f"{destination}: both {claimed[key]} and {item.path} would be written here; "
                "use -o with a folder tree, or process them separately"
            )
        claimed[key] = item.path
        jobs.append(_existing_check(Job(item.path, destination), overwrite, skip_existing))
    return jobs


def _existing_check(job: Job, overwrite: bool, skip_existing: bool) -> Job:
    destination = job.output
    assert destination is not None
    if destination.is_dir():
        err = BadImageError("is a folder; cannot write the output here", destination)
        job.status, job.message, job.error = FAILED, str(err), err
    elif destination.exists() or destination.is_symlink():
        if skip_existing:
            job.status, job.message = SKIPPED, "output exists"
        elif not overwrite:
            err = BadImageError(
                "already exists; pass --overwrite to replace it (or --skip-existing)", destination
            )
            job.status, job.message, job.error = FAILED, str(err), err
    return job


def plan(options: BatchOptions) -> list[Job]:
    """Steps 1 and 2 for a command's options: expand the inputs, plan one output each (usage errors here)."""
    inputs = list(options.inputs)
    items = expand_inputs(inputs, recursive=options.recursive)
    if not items:
        raise UsageError(no_images_hint(inputs, options.recursive))
    hint_cp_style(inputs, items)
    return plan_outputs(
        items,
        output=options.output,
        suffix=options.suffix,
        fmt=options.fmt,
        overwrite=options.overwrite,
        skip_existing=options.skip_existing,
    )


# ------------------------------------------------------------------------------------------------ running


class Run:
    """One run over many images: iterate it to process them; each :class:`BatchRecord` is yielded as soon as
    it exists (the caller prints it), and :attr:`result` holds them all with the counts and exit code.

    Ctrl-C while an image is processed abandons that image (its record says to re-run with
    ``--skip-existing``) and ends the iteration; between images it ends it too. Either way
    ``result.interrupted`` is set. A caller interrupted while handling a record calls :meth:`interrupt`.
    """

    def __init__(self, attempts: Iterable[tuple[BatchRecord, bool]]) -> None:
        self._attempts = attempts
        self.result = BatchResult()

    def __iter__(self) -> Iterator[BatchRecord]:
        try:
            for record, finished in self._attempts:
                self.result.records.append(record)
                yield record
                if not finished:
                    self.interrupt()
                    return
        except KeyboardInterrupt:  # between images
            self.interrupt()

    def interrupt(self) -> None:
        """Mark the run as stopped by Ctrl-C (exit code 130)."""
        self.result.interrupted = True


def run(
    jobs: list[Job],
    process: Callable[[Any], Any],
    *,
    read_kwargs: dict[str, Any] | None = None,
    write_kwargs: dict[str, Any] | None = None,
) -> Run:
    """Read, ``process`` and write each pending job as the returned :class:`Run` is iterated.

    ``process`` takes an :class:`restore_cli.io.Image` and returns one, or a
    :class:`restore_cli.restorer.Restored` (image and steps; the steps go into the record), e.g. a
    ``Restorer``'s ``run``. An image the output format cannot hold (transparency into JPEG) fails before
    ``process`` runs. Jobs the plan already skipped or failed give their record without any work.
    """
    from restore_cli import io

    reading = dict(read_kwargs or {})
    writing = dict(write_kwargs or {})

    def attempts() -> Iterator[tuple[BatchRecord, bool]]:
        for job in jobs:
            source, target = str(job.input), str(job.output) if job.output is not None else None
            if not job.pending:
                yield BatchRecord(source, target, job.status, job.message), True
                continue
            yield run_one(
                source,
                target,
                read=lambda job=job: io.read_image(job.input, **reading),
                check=lambda image, job=job: io.check_writable(image, job.output),
                process=process,
                write=lambda image, job=job: io.write_image(image, job.output, **writing),
            )

    return Run(attempts())


def run_batch(
    jobs: list[Job],
    process: Callable[[Any], Any],
    *,
    read_kwargs: dict[str, Any] | None = None,
    write_kwargs: dict[str, Any] | None = None,
) -> BatchResult:
    """:func:`run` to the end, for callers with nothing to show per image: the :class:`BatchResult`."""
    session = run(jobs, process, read_kwargs=read_kwargs, write_kwargs=write_kwargs)
    for _ in session:
        pass
    return session.result


def run_one(
    source: str,
    target: str | None,
    *,
    read: Callable[[], Any],
    check: Callable[[Any], None],
    process: Callable[[Any], Any],
    write: Callable[[Any], None],
) -> tuple[BatchRecord, bool]:
    """The one job runner: ``read`` an image, ``check`` it can be written, ``process`` it, ``write`` it.

    Returns its record and False when Ctrl-C abandoned it. A RestoreError fails the record with its one-line
    message; any other error too (with its traceback kept for ``--debug``), so one image never stops a batch.
    A :class:`BadWeightsError` (a model that cannot load) or a ``BrokenPipeError`` (standard output closed)
    is raised: it is no image's, and stops the run.
    """
    started = time.perf_counter()
    size: list[int] | None = None
    try:
        image = read()
        size = [int(image.pixels.shape[1]), int(image.pixels.shape[0])]
        check(image)
        restored, steps = _processed(process(image), Path(source))
        write(restored)
    except KeyboardInterrupt:
        message = "interrupted before this image was written; re-run with --skip-existing to finish"
        return BatchRecord(source, target, FAILED, message, time.perf_counter() - started, size), False
    except (BadWeightsError, BrokenPipeError):
        # A weights file that cannot load (a damaged default, loaded when an image first needs it) is not
        # this image's fault and would fail every later one alike: it stops the run, reported once. A
        # reader of ``-o -`` that went away stops it too (the CLI exits 141, as for any closed stdout).
        raise
    except RestoreError as err:
        seconds = time.perf_counter() - started
        text = traceback.format_exc()
        record = BatchRecord(
            source, target, FAILED, one_line(err), seconds, size, exception=_detached(err), traceback=text
        )
        return record, True
    except Exception as err:  # a bug or library error in one image must not stop the batch
        message = f"{source}: unexpected {type(err).__name__}: {one_line(err)} (rerun with --debug)"
        seconds = time.perf_counter() - started
        text = traceback.format_exc()
        record = BatchRecord(
            source, target, FAILED, message, seconds, size, exception=_detached(err), traceback=text
        )
        return record, True
    return BatchRecord(source, target, OK, "", time.perf_counter() - started, size, steps), True


def _detached(err: BaseException) -> BaseException:
    """``err`` and the exceptions chained to it without their tracebacks (kept as text in the record).

    A traceback holds its frames and so the image being processed: a long batch with many failures would
    keep every failed image in memory until the end.
    """
    seen: set[int] = set()
    stack: list[BaseException | None] = [err]
    while stack:
        exc = stack.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        exc.__traceback__ = None
        stack += [exc.__cause__, exc.__context__]
    return err


def _processed(result: Any, source: Path) -> tuple[Any, list[str] | None]:
    """The image and steps from what ``process`` returned (an io.Image, or a tasks.Restored)."""
    from restore_cli import io
    from restore_cli.restorer import Restored

    image, steps = (result.image, list(result.steps)) if isinstance(result, Restored) else (result, None)
    if not isinstance(image, io.Image):
        raise RestoreError(f"processing returned {type(image).__name__}, not an image", source)
    return image, steps


def hint_cp_style(inputs: list[str], items: list[InputItem]) -> None:
    """``restore colorize in.jpg out.png`` (cp-style): when the last of several inputs is a missing file
    with an output extension and the others exist, its error also says how to write there (``-o``).

    It stays a missing input (the others are still processed, exit 1): it may really be a mistyped input.
    """
    if len(inputs) < 2 or not items:
        return
    last = items[-1]
    from restore_cli.io import SUPPORTED_OUTPUT_FORMATS

    extension = last.path.suffix.lower().lstrip(".")
    others_exist = all(item.error is None for item in items[:-1])
    missing = last.error is not None and not last.path.exists()
    if others_exist and missing and extension in SUPPORTED_OUTPUT_FORMATS:
        hint = f"does not exist; check the path (to write the result to this file, use -o {last.path})"
        last.error = BadImageError(hint, last.path)


def no_images_hint(inputs: Iterable[str], recursive: bool) -> str:
    """The usage error for inputs that held no image; suggests --recursive only when a subfolder exists."""
    text = ", ".join(str(i) for i in inputs)
    has_subfolders = False
    if not recursive:
        for raw in inputs:
            folder = Path(raw).expanduser()
            if folder.is_dir():
                try:
                    has_subfolders = any(p.is_dir() and not p.name.startswith(".") for p in folder.iterdir())
                except OSError:
                    continue
            if has_subfolders:
                break
    hint = " (add --recursive to look into subfolders)" if has_subfolders else ""
    return f"no images found in {text}{hint}"


__all__ = [
    "IMAGE_EXTENSIONS",
    "OUTPUT_FORMATS",
    "INTERRUPTED_EXIT",
    "BatchOptions",
    "BatchRecord",
    "BatchResult",
    "InputItem",
    "Job",
    "hint_cp_style",
    "expand_inputs",
    "no_images_hint",
    "output_extension",
    "plan",
    "plan_outputs",
    "read_kwargs",
    "Run",
    "run",
    "run_batch",
    "run_one",
]
