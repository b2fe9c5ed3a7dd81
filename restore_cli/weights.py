"""Weights files: safetensors with restore metadata, the shipped and user manifests, and model loading.

A weights file alone is enough to rebuild its model: its ``__metadata__`` names the architecture and its
hyperparameters. Files listed in a manifest are sha256-checked before loading; keys load strictly. Only
safetensors are read here (never pickle); the header is validated by hand first so that a truncated or
malformed file gives a clear :class:`BadWeightsError` instead of a raw exception. torch is imported inside
functions so that ``restore weights list`` stays fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restore_cli.choices import WEIGHT_TASKS
from restore_cli.errors import (
    BadWeightsError,
    NoDefaultWeightsError,
    RestoreError,
    UnknownModelError,
    UsageError,
)
from restore_cli.fsutil import atomic_write, contained

if TYPE_CHECKING:
    from restore_cli.models.descriptor import ModelDescriptor

FORMAT = "restore-weights/1"
TASKS = WEIGHT_TASKS
JSON_FIELDS = ("hyper", "training", "metrics", "source", "inference")
MANIFEST_VERSION = 1

# safetensors dtype -> bytes per element. Floats hold parameters; integers only integer buffers.
_DTYPE_SIZES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}
_FLOAT_DTYPES = {"F64", "F32", "F16", "BF16"}
_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors library's own limit
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


# ----------------------------------------------------------------------------------------------------------
# Files: hashing, atomic writes, header validation, save and read metadata
# ----------------------------------------------------------------------------------------------------------


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as a safetensors header describes it."""

    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass(frozen=True)
class Header:
    """A validated safetensors header: tensors by name and the raw (string) metadata."""

    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]
    data_start: int


def _bad(path: str | Path | None, message: str) -> BadWeightsError:
    return BadWeightsError(message, path)


def _read_error(path: Path, exc: OSError) -> BadWeightsError:
    """The one-line error for a weights file that cannot be read."""
    if isinstance(exc, FileNotFoundError):
        return _bad(path, "weights file not found; check the path or run `restore weights list`")
    if isinstance(exc, IsADirectoryError):
        return _bad(path, "is a folder, not a .safetensors weights file")
    return _bad(path, f"cannot read weights file ({exc.strerror})")


def parse_header(data: bytes, path: str | Path | None = None, *, file_size: int | None = None) -> Header:
    """Validate a safetensors file's header against the bytes it describes.

    Refuses: a file shorter than its header length field, a header length beyond the file or beyond 100 MB,
    header JSON that is not an object, unknown dtypes, shapes that disagree with byte ranges, ranges
    outside the data or overlapping each other, gaps, and non-string metadata. ``data`` may hold only the
    header when ``file_size`` gives the length of the whole file.
    """
    fix = "re-export or re-download the file"
    total = len(data) if file_size is None else file_size
    if total < 8:
        raise _bad(path, f"not a safetensors file: only {total} bytes (truncated?); {fix}")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER_BYTES:
        raise _bad(path, f"corrupt safetensors header: claims {n} bytes of header; {fix}")
    if 8 + n > total or 8 + n > len(data):
        raise _bad(
            path, f"truncated safetensors file: header claims {n} bytes but only {total - 8} follow; {fix}"
        )
    try:
        raw = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(path, f"corrupt safetensors header (not JSON: {exc}); {fix}") from None
    if not isinstance(raw, dict):
        raise _bad(path, f"corrupt safetensors header (not a JSON object); {fix}")
    meta_raw = raw.pop("__metadata__", None) or {}
    if not isinstance(meta_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta_raw.items()
    ):
        raise _bad(path, f"corrupt safetensors metadata (must map strings to strings); {fix}")
    data_len = total - 8 - n
    tensors: dict[str, TensorInfo] = {}
    for name, info in raw.items():
        where = f"tensor {name!r}"
        if not isinstance(info, dict):
            raise _bad(path, f"corrupt safetensors header: {where} is not described by an object; {fix}")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if dtype not in _DTYPE_SIZES:
            raise _bad(path, f"{where} has unsupported dtype {dtype!r}; {fix}")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise _bad(path, f"corrupt safetensors header: {where} has a bad shape {shape!r}; {fix}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        ):
            raise _bad(path, f"corrupt safetensors header: {where} has bad data_offsets {offsets!r}; {fix}")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise _bad(
                path,
                f"{where} lies outside the data (bytes {begin}..{end} of {data_len}): truncated; {fix}",
            )
        if math.prod(shape) * _DTYPE_SIZES[dtype] != end - begin:
            raise _bad(path, f"{where}: shape {shape} of {dtype} does not fit its {end - begin} bytes; {fix}")
        tensors[name] = TensorInfo(dtype, tuple(shape), begin, end)
    position = 0
    for name, info in sorted(tensors.items(), key=lambda kv: (kv[1].begin, kv[1].end)):
        if info.begin < position:
            raise _bad(path, f"corrupt safetensors file: tensor {name!r} overlaps another tensor; {fix}")
        if info.begin > position:
            raise _bad(path, f"corrupt safetensors file: unused bytes before tensor {name!r}; {fix}")
        position = info.end
    if position != data_len:
        raise _bad(
            path, f"corrupt safetensors file: {data_len - position} trailing bytes after the data; {fix}"
        )
    return Header(tensors, dict(meta_raw), 8 + n)


def _read_header_only(path: Path) -> Header:
    """Parse a file's header without reading its tensor data (sizes are still checked against the file)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) == 8:
                (n,) = struct.unpack("<Q", head)
                if 8 + n <= size and n <= _MAX_HEADER_BYTES:
                    head += f.read(n)
    except OSError as exc:
        raise _read_error(path, exc) from None
    return parse_header(head, path, file_size=size)


def _parse_metadata(raw: dict[str, str], path: str | Path | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = dict(raw)
    for key in JSON_FIELDS:
        if key in meta:
            try:
                meta[key] = json.loads(meta[key])
            except json.JSONDecodeError:
                raise _bad(path, f"metadata field {key!r} is not valid JSON; re-export the file") from None
    return meta


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``__metadata__`` of a weights file, with JSON fields (hyper, training, metrics, source) parsed."""
    path = Path(path)
    return _parse_metadata(_read_header_only(path).metadata, path)


def _meta_string(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def save_weights(
    path: str | Path,
    module: Any,
    arch: str,
    hyper: dict[str, Any],
    *,
    meta: dict[str, Any] | None = None,
    half: bool = False,
) -> str:
    """Write ``module``'s state dict with restore metadata to ``path`` atomically; return its sha256.

    ``meta`` adds optional fields (name, description, license, training, metrics, source, ...); non-string
    values are stored as JSON. ``half`` stores floating tensors as fp16 (loading always gives fp32).
    """
    data = encode_weights(module, arch, hyper, meta=meta, half=half)
    atomic_write(Path(path), data)
    return hashlib.sha256(data).hexdigest()


def encode_weights(
    module: Any,
    arch: str,
    hyper: dict[str, Any],
    *,
    meta: dict[str, Any] | None = None,
    half: bool = False,
) -> bytes:
    """The bytes :func:`save_weights` writes (a safetensors file with restore metadata)."""
    import torch
    from safetensors.torch import save

    from restore_cli.models import get_arch

    spec = get_arch(arch)
    full_hyper = spec.hyper(**hyper)
    metadata = {
        "format": FORMAT,
        "arch": arch,
        "task": spec.task_for(full_hyper),
        "hyper": json.dumps(full_hyper, sort_keys=True),
    }
    for key, value in (meta or {}).items():
        if key in ("format", "arch", "hyper"):
            continue
        if value is not None:
            metadata[key] = _meta_string(value)
    tensors = {}
    for key, tensor in module.state_dict().items():
        tensor = tensor.detach().to("cpu")
        if half and tensor.is_floating_point():
            tensor = tensor.to(torch.float16)
        tensors[key] = tensor.contiguous().clone()
    return save(tensors, metadata=metadata)


# ----------------------------------------------------------------------------------------------------------
# Manifests
# ----------------------------------------------------------------------------------------------------------


@dataclass
class WeightsEntry:
    """One manifest record; ``origin`` is "shipped" or "user" and ``path`` the resolved file."""

    name: str
    file: str
    sha256: str
    task: str
    arch: str
    size_bytes: int = 0
    license: str = ""
    description: str = ""
    default_for: list[str] = field(default_factory=list)
    origin: str = "user"
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_manifest(self) -> dict[str, Any]:
        record = {
            "name": self.name,
            "file": self.file,
            "sha256": self.sha256,
            "task": self.task,
            "arch": self.arch,
            "size_bytes": self.size_bytes,
            "license": self.license,
            "description": self.description,
            "default_for": list(self.default_for),
        }
        return {**self.extra, **record}


_ENTRY_FIELDS = (
    "name",
    "file",
    "sha256",
    "task",
    "arch",
    "size_bytes",
    "license",
    "description",
    "default_for",
)


def shipped_weights_dir() -> Path:
    """``$RESTORE_WEIGHTS_DIR`` if set; else the source tree's ``weights/`` beside the package (a checkout or
    an editable install); else the copy installed as package data ``restore_cli/shipped_weights`` (a wheel or
    ``pip install .``)."""
    env = os.environ.get("RESTORE_WEIGHTS_DIR")
    if env:
        return Path(env).expanduser()
    import restore_cli

    package_dir = Path(restore_cli.__file__).resolve().parent
    source_tree = package_dir.parent / "weights"
    if (source_tree / "manifest.json").is_file():
        return source_tree
    return package_dir / "shipped_weights"


def restore_home() -> Path:
    """``$RESTORE_HOME``, else ``$XDG_DATA_HOME/restore``, else ``~/.local/share/restore``."""
    env = os.environ.get("RESTORE_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "restore"


def user_weights_dir() -> Path:
    """Where imported and user-added weights live (with their own manifest.json)."""
    return restore_home() / "weights"


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    try:
        if not path.exists() and not path.is_symlink():  # a dangling link is an error, not "no weights"
            return {"version": MANIFEST_VERSION, "weights": []}
        data = json.loads(path.read_text(encoding="utf-8"))
    except IsADirectoryError:
        raise BadWeightsError("is a folder, not a weights manifest; remove or rename it", path) from None
    except OSError as exc:
        reason = exc.strerror or exc
        raise BadWeightsError(f"cannot read weights manifest ({reason}); check it", path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadWeightsError(f"cannot read weights manifest ({exc}); fix or delete it", path) from None
    _check_manifest(data, folder, path)
    data.setdefault("weights", [])
    return data


def _manifest_field_error(path: Path, where: str, wanted: str, value: Any) -> BadWeightsError:
    shown = json.dumps(value)[:60]
    return BadWeightsError(f"field {where!r} must be {wanted}, not {shown}; fix or delete the manifest", path)


def _check_manifest(data: Any, folder: Path, path: Path) -> None:
    """Check a manifest's schema: a hand-edited file fails with the field named, never a raw exception."""
    if not isinstance(data, dict) or not isinstance(data.get("weights", []), list):
        raise BadWeightsError("weights manifest must be an object with a 'weights' list; fix it", path)
    version = data.get("version", MANIFEST_VERSION)
    if version != MANIFEST_VERSION or isinstance(version, bool):
        raise BadWeightsError(f"unsupported manifest version {version!r}; upgrade restore", path)
    defaults_table = data.get("defaults", {})
    if not isinstance(defaults_table, dict):
        wanted = "an object mapping tasks to weights names"
        raise _manifest_field_error(path, "defaults", wanted, defaults_table)
    for task, name in defaults_table.items():
        if not isinstance(name, str):
            raise _manifest_field_error(path, f"defaults.{task}", "a weights name (text)", name)
    for i, record in enumerate(data.get("weights", [])):
        where = f"weights[{i}]"
        if not isinstance(record, dict) or not all(k in record for k in ("name", "file", "sha256")):
            raise BadWeightsError(f"manifest entry {where} lacks name, file or sha256; fix it", path)
        for key in ("name", "file", "sha256"):
            if not isinstance(record[key], str) or not record[key]:
                raise _manifest_field_error(path, f"{where}.{key}", "non-empty text", record[key])
        for key in ("task", "arch", "license", "description"):
            if record.get(key) is not None and not isinstance(record[key], str):
                raise _manifest_field_error(path, f"{where}.{key}", "text", record[key])
        size = record.get("size_bytes")
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise _manifest_field_error(path, f"{where}.size_bytes", "a whole number of bytes", size)
        tasks = record.get("default_for")
        if tasks is not None and (not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks)):
            raise _manifest_field_error(path, f"{where}.default_for", "a list of task names", tasks)
        try:
            contained(folder, record["file"])
        except ValueError:
            raise _manifest_field_error(
                path, f"{where}.file", "a file name inside the manifest's folder", record["file"]
            ) from None


def _entries(folder: Path, origin: str) -> list[WeightsEntry]:
    entries = []
    for record in _read_manifest(folder)["weights"]:  # schema checked by _read_manifest
        extra = {k: v for k, v in record.items() if k not in _ENTRY_FIELDS}
        entry = WeightsEntry(
            name=record["name"],
            file=record["file"],
            sha256=record["sha256"].lower(),
            task=record.get("task") or "",
            arch=record.get("arch") or "",
            size_bytes=record.get("size_bytes") or 0,
            license=record.get("license") or "",
            description=record.get("description") or "",
            default_for=list(record.get("default_for") or []),
            origin=origin,
            path=contained(folder, record["file"]),
            extra=extra,
        )
        entries.append(entry)
    return entries


@contextlib.contextmanager
def _writing_user_folder(folder: Path) -> Iterator[None]:
    """Turn an OS error while writing the user weights folder into one line naming it and RESTORE_HOME."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RestoreError(
            f"cannot write to the user weights folder ({reason}); make it writable, or set RESTORE_HOME "
            "to a folder you can write",
            folder,
        ) from None


def _write_user_manifest(data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    folder = user_weights_dir()
    with _writing_user_folder(folder):
        atomic_write(folder / "manifest.json", text.encode("utf-8"))


def list_weights() -> list[WeightsEntry]:
    """Shipped and user entries; a user entry hides a shipped one of the same name."""
    user = _entries(user_weights_dir(), "user")
    user_names = {e.name for e in user}
    shipped = [e for e in _entries(shipped_weights_dir(), "shipped") if e.name not in user_names]
    return shipped + user


def find_entry(name: str) -> WeightsEntry:
    """The entry called ``name`` (user first); unknown names fail with the list of known ones."""
    for entry in reversed(list_weights()):
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in list_weights()) or "none installed"
    raise UnknownModelError(
        f"no weights named {name!r} (known: {known}); see `restore weights list` or pass --weights FILE"
    )


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise UsageError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")


def _base_task(task: str) -> str:
    return "deblur" if task == "deblur-gray" else task


def defaults() -> dict[str, WeightsEntry]:
    """The default entry of each task that has one (user choices win over shipped ones)."""
    entries = list_weights()
    by_name = {e.name: e for e in entries}
    result: dict[str, WeightsEntry] = {}
    for origin in ("shipped", "user"):
        for entry in entries:
            if entry.origin == origin:
                for task in entry.default_for:
                    result[task] = entry
    overrides = _read_manifest(user_weights_dir()).get("defaults") or {}
    for task, name in overrides.items():
        if name in by_name:
            result[task] = by_name[name]
    return result


def default_for(task: str) -> WeightsEntry | None:
    """The default weights for ``task`` itself, or None (no fallback: which model a gray image gets when
    there is no gray default is decided in one place, ``restorer.Restorer.deblur_model``)."""
    _check_task(task)
    return defaults().get(task)


def set_default(name: str, task: str) -> WeightsEntry:
    """Make ``name`` the default for ``task``, recorded in the user manifest (shipped files untouched)."""
    _check_task(task)
    entry = find_entry(name)
    if entry.task and _base_task(entry.task) != _base_task(task):
        raise UsageError(f"weights {name!r} are for {entry.task}, not {task}; pick weights of that task")
    data = _read_manifest(user_weights_dir())
    for record in data["weights"]:
        tasks = [t for t in record.get("default_for") or [] if t != task]
        if record.get("name") == name and entry.origin == "user":
            tasks.append(task)
        record["default_for"] = tasks
    overrides = {t: n for t, n in (data.get("defaults") or {}).items() if t != task}
    if entry.origin == "shipped":
        overrides[task] = name
    if overrides:
        data["defaults"] = overrides
    else:
        data.pop("defaults", None)
    _write_user_manifest(data)
    return entry


def remove(name: str) -> WeightsEntry:
    """Delete user weights ``name`` (file and manifest entry); shipped weights cannot be removed."""
    entry = find_entry(name)
    if entry.origin != "user":
        raise UsageError(f"weights {name!r} are shipped with restore and cannot be removed")
    data = _read_manifest(user_weights_dir())
    data["weights"] = [r for r in data["weights"] if r.get("name") != name]
    overrides = {t: n for t, n in (data.get("defaults") or {}).items() if n != name}
    if overrides:
        data["defaults"] = overrides
    else:
        data.pop("defaults", None)
    _write_user_manifest(data)
    still_used = any(r.get("file") == entry.file for r in data["weights"])
    if entry.path is not None and not still_used:
        with _writing_user_folder(user_weights_dir()), contextlib.suppress(FileNotFoundError):
            entry.path.unlink()
    return entry


def verify_entry(entry: WeightsEntry) -> tuple[bool, str]:
    """Check one entry's file: present, sha256 as recorded, header well formed. Returns (ok, message)."""
    path = entry.path
    if path is None or not path.is_file():
        return False, f"{path}: file missing; re-import it or remove the entry"
    actual = sha256_file(path)
    if actual != entry.sha256:
        return False, f"{path}: sha256 mismatch (expected {entry.sha256[:12]}..., got {actual[:12]}...)"
    try:
        _read_header_only(path)
    except BadWeightsError as exc:
        return False, str(exc)
    return True, "ok"


def verify() -> list[tuple[WeightsEntry, bool, str]]:
    """Check every entry of both manifests (including shipped entries hidden by user ones)."""
    entries = _entries(shipped_weights_dir(), "shipped") + _entries(user_weights_dir(), "user")
    return [(entry, *verify_entry(entry)) for entry in entries]


def check_name(name: str) -> str:
    """A weights name is also a file name: letters, digits, '.', '_' or '-', starting with a letter or digit.

    Checked before anything touches the disk, so a name such as ``../../x`` can never pick where a file goes.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise UsageError(
            f"bad weights name {name!r}: use letters, digits, '.', '_' or '-', starting with a letter or "
            "digit (max 100)"
        )
    return name


def add_user_weights(
    file: str | Path | bytes,
    name: str,
    *,
    description: str | None = None,
    license: str | None = None,
    default_for: list[str] | None = None,
    overwrite: bool = False,
) -> WeightsEntry:
    """Copy a restore weights file (or its bytes) to the user weights dir as ``<name>.safetensors``; list it.

    The file must carry restore metadata (arch, hyper); task, arch, licence and description come from it
    unless given. An existing user entry of the same name is replaced only with ``overwrite``.
    """
    check_name(name)
    if isinstance(file, (bytes, bytearray)):
        data, source = bytes(file), None
    else:
        source = Path(file)
        data = _read_file_bytes(source)
    meta = _parse_metadata(parse_header(data, source).metadata, source)
    arch, task = _require_arch(meta, source)
    folder = user_weights_dir()
    manifest = _read_manifest(folder)
    existing = [r for r in manifest["weights"] if r.get("name") == name]
    if existing and not overwrite:
        raise UsageError(
            f"user weights named {name!r} already exist; remove them first or choose another --name"
        )
    target = contained(folder, f"{name}.safetensors")
    with _writing_user_folder(folder):
        atomic_write(target, data)
    entry = WeightsEntry(
        name=name,
        file=target.name,
        sha256=hashlib.sha256(data).hexdigest(),
        task=task,
        arch=arch,
        size_bytes=len(data),
        license=license if license is not None else str(meta.get("license", "")),
        description=description if description is not None else str(meta.get("description", "")),
        default_for=list(default_for or []),
        origin="user",
        path=target,
    )
    for t in entry.default_for:
        _check_task(t)
        for record in manifest["weights"]:
            record["default_for"] = [x for x in record.get("default_for") or [] if x != t]
    manifest["weights"] = [r for r in manifest["weights"] if r.get("name") != name] + [entry.to_manifest()]
    _write_user_manifest(manifest)
    return entry


# ----------------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------------


def _read_file_bytes(path: Path) -> bytes:
    if path.suffix.lower() in (".pth", ".pt", ".ckpt", ".bin", ".pkl"):
        raise _bad(
            path, "is a pickle checkpoint, not safetensors; convert it with `restore weights import FILE`"
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _read_error(path, exc) from None


def _require_arch(meta: dict[str, Any], path: Path) -> tuple[str, str]:
    """(arch, task) from metadata; a file without restore metadata is refused with what to do."""
    if not isinstance(meta.get("arch"), str) or not isinstance(meta.get("hyper"), dict):
        raise _bad(
            path,
            "has no restore metadata (arch and hyper); if it is an upstream checkpoint, convert it with "
            "`restore weights import`, or re-export it with `restore train`",
        )
    from restore_cli.models import get_arch

    try:
        spec = get_arch(meta["arch"])
    except UnknownModelError as exc:
        raise _bad(path, f"claims an architecture this version does not know ({exc.message})") from None
    task = meta.get("task") if meta.get("task") in TASKS else spec.task_for(meta["hyper"])
    return meta["arch"], task


WEIGHT_FILE_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt")


def looks_like_file(ref: str | Path) -> bool:
    """Whether a model reference names a file rather than a manifest entry (a Path, a folder separator or a
    weights suffix); a bare word that is no manifest name may still be a file in the current folder."""
    text = str(ref)
    return (
        isinstance(ref, Path)
        or Path(text).suffix.lower() in WEIGHT_FILE_SUFFIXES
        or "/" in text
        or os.sep in text
    )


def _resolve(ref: str | Path | None, task: str | None) -> tuple[Path, str | None, str | None]:
    """(file, manifest name, expected sha256) for a reference: name, path, or None for the task default."""
    if ref is None:
        if task is None:
            raise UsageError("name weights with --weights FILE.safetensors or --model NAME")
        entry = default_for(task)
        if entry is None:
            raise NoDefaultWeightsError(
                f"no default weights for {task} are installed; pass --weights FILE.safetensors or "
                f"--model NAME (see `restore weights list`), or import some with `restore weights import`"
            )
        return entry.path, entry.name, entry.sha256
    text = str(ref)
    path = Path(text).expanduser()
    if looks_like_file(ref):
        return path, None, None
    try:
        entry = find_entry(text)
    except UnknownModelError:
        if path.is_file():
            return path, None, None
        raise
    return entry.path, entry.name, entry.sha256


def load_model(ref: str | Path | None = None, *, task: str | None, device: str = "cpu") -> ModelDescriptor:
    """Build the model stored in a weights file: ``ref`` is a manifest name, a path, or None (task default).

    Manifest entries must match their sha256; the metadata's hyperparameters must agree with those the
    tensor shapes give (for architectures with ``hyper_from_state``), checked before anything is built;
    keys, shapes and dtypes must match the architecture the file claims. Never falls back to random weights.
    """
    if task is not None:
        _check_task(task)
    path, name, expected_sha = _resolve(ref, task)
    data = _read_file_bytes(path)
    sha = hashlib.sha256(data).hexdigest()
    if expected_sha is not None and sha != expected_sha:
        raise _bad(
            path,
            f"sha256 mismatch for weights {name!r} (expected {expected_sha[:12]}..., got {sha[:12]}...): "
            "the file is corrupt or was replaced; re-import it",
        )
    header = parse_header(data, path)
    meta = _parse_metadata(header.metadata, path)
    arch, _ = _require_arch(meta, path)

    from restore_cli.models import get_arch
    from restore_cli.models.descriptor import ModelDescriptor, one_thread

    spec = get_arch(arch)
    if task is not None and _base_task(task) != spec.task:
        raise _bad(
            path, f"holds a {spec.task} model ({arch}), not a {task} model; use it with `restore {spec.task}`"
        )
    try:
        hyper = spec.hyper(**meta["hyper"])
    except UnknownModelError as exc:
        raise _bad(path, f"hyperparameters do not fit architecture {arch!r}: {exc.message}") from None
    _check_hyper_against_tensors(spec, hyper, header, path)
    with one_thread():  # hundreds of small operations: see one_thread
        try:
            module = spec.build(**hyper)
        except (TypeError, ValueError) as exc:
            raise _bad(path, f"cannot build architecture {arch!r} from its hyperparameters ({exc})") from None

        state = _load_tensors(data, header, module, arch, path)
        module.load_state_dict(state, strict=True)
        if isinstance(meta.get("inference"), dict) and hasattr(module, "set_tlc"):
            base = meta["inference"].get("tlc_base_size")
            if isinstance(base, int) and base > 0:
                module.set_tlc(base)
        module = module.to(device).eval()
    return ModelDescriptor.describe(
        module,
        spec,
        hyper,
        metadata=meta,
        path=path,
        sha256=sha,
        name=name or (meta.get("name") if isinstance(meta.get("name"), str) else None),
    )


def _check_hyper_against_tensors(spec: Any, hyper: dict[str, Any], header: Header, path: Path) -> None:
    """Refuse metadata whose hyperparameters disagree with those the file's tensor shapes give.

    Done on the header alone, before the model is built, so metadata that claims a far larger model than
    the file holds fails here instead of allocating it. Architectures without ``hyper_from_state`` are
    checked by the strict key and shape comparison only.
    """
    if spec.hyper_from_state is None:
        return
    try:
        found = spec.hyper_from_state(header.tensors)
    except (KeyError, IndexError, ValueError, TypeError):
        return  # not the upstream layout at all: the strict key comparison names what is missing
    wrong = {k: v for k, v in found.items() if not _same_hyper(hyper.get(k), v)}
    if wrong:
        said = ", ".join(f"{k} {hyper.get(k)!r}" for k in sorted(wrong))
        shapes = ", ".join(f"{k} {v!r}" for k, v in sorted(wrong.items()))
        raise _bad(
            path,
            f"metadata hyperparameters ({said}) do not match the tensors ({shapes}); the metadata is wrong "
            "or the file damaged: re-export it",
        )


def _same_hyper(stated: Any, found: Any) -> bool:
    """Equal, with floats compared as the layer widths they give (a width multiplier of 0.3 -> 19 of 64)."""
    if isinstance(found, float) and isinstance(stated, (int, float)) and not isinstance(stated, bool):
        return round(64 * found) == round(64 * float(stated))
    return stated == found


def _load_tensors(data: bytes, header: Header, module: Any, arch: str, path: Path) -> dict[str, Any]:
    """The file's tensors as the module's dtypes, after checking keys, shapes and dtypes strictly."""
    import torch
    from safetensors.torch import load

    expected = module.state_dict()
    missing = [k for k in expected if k not in header.tensors]
    unexpected = [k for k in header.tensors if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s), first: {', '.join(missing[:3])}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s), first: {', '.join(unexpected[:3])}")
        raise _bad(
            path,
            f"keys do not match architecture {arch!r} that the file claims ({'; '.join(parts)}); "
            "the file belongs to another architecture or is damaged",
        )
    for key, target in expected.items():
        info = header.tensors[key]
        if tuple(target.shape) != info.shape:
            raise _bad(
                path,
                f"tensor {key!r} has shape {list(info.shape)} but {arch!r} with these hyperparameters "
                f"needs {list(target.shape)}; the metadata does not match the tensors",
            )
        if target.is_floating_point() != (info.dtype in _FLOAT_DTYPES):
            raise _bad(path, f"tensor {key!r} has dtype {info.dtype}, which does not fit {target.dtype}")
    try:
        tensors = load(data)
    except Exception as exc:  # the library's own errors for anything our checks missed
        raise _bad(path, f"cannot decode safetensors data ({exc}); re-export the file") from None
    state = {}
    for key, target in expected.items():
        tensor = tensors[key]
        if target.is_floating_point():
            tensor = tensor.to(torch.float32)
            if not torch.isfinite(tensor).all():
                raise _bad(path, f"tensor {key!r} contains NaN or infinite values; the file is damaged")
        state[key] = tensor.to(target.dtype)
    return state


__all__ = [
    "FORMAT",
    "TASKS",
    "WeightsEntry",
    "add_user_weights",
    "check_name",
    "default_for",
    "defaults",
    "encode_weights",
    "find_entry",
    "list_weights",
    "load_model",
    "parse_header",
    "read_metadata",
    "remove",
    "restore_home",
    "save_weights",
    "set_default",
    "sha256_file",
    "shipped_weights_dir",
    "user_weights_dir",
    "verify",
]
