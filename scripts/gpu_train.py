"""One command for a session that is lent a GPU: pack here, train there, bench and ship here.

A lent machine receives the repository's working tree (at most 64 MiB, tracked files included) and gives back
at most 8 files of 16 MiB through ``$OUT``; one command runs at most 10 minutes. So:

1. here:   ``python scripts/gpu_train.py pack --task deblur``
   packs the shipped weights (as ``--init``), a training-data pack (JPEG re-encoded, 4:4:4, as many photos
   as fit) and small validation crops into ``.device/`` (git-ignored), checks what would travel against the
   limit, and prints the exact device call;
2. there:  ``python3 scripts/gpu_train.py device --task deblur --seconds 500``
   (one ``run`` with ``carry: [".device"]``) trains from the pack: ``--fit-schedule`` measures the rate over
   the first iterations and sets ``--iters`` so the cosine schedule ends inside the call; the blur is made on
   the GPU (``--synth-device device``); it writes the export, the JSONL log, GPU utilisation samples and a
   summary (samples/s) to ``$OUT``;
3. here:   ``python scripts/gpu_train.py finish --task deblur --candidate FILES_AT/NAME.safetensors``
   benches candidate and shipped file on val with ``restore bench`` and replaces the shipped file (and its
   manifest sha256/size) only when the candidate's val PSNR is higher. The model card (weights/README.md) is
   then updated by hand with the numbers it prints.

``dry-run`` does 1 and 2 on this CPU in seconds (tiny pack, tiny model), to test the packing, the size check
and the schedule fitting without a GPU. See docs/TRAINING.md, "A session with a lent GPU".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MIB = 2**20
TRAVEL_LIMIT = 64 * MIB  # the working tree that travels, tracked files included
SAFETY = 2 * MIB  # kept free under the limit (git metadata rounding, a late edit)
RETURN_FILE_LIMIT = 16 * MIB
VAL_PHOTOS = 16  # the trainer's validation: the first 16 val photos, centre crop 256
VAL_SIZE = 256  # the trainer's --val-size; val photos are packed as parity-preserving centre crops of it
# plus the largest recorded kernel's margin (lossless PNG), so the validation there is the one here
QUALITIES = (95, 92, 90)  # tried in order until the pack fits; then photos are dropped evenly
COLOR_SHORT_SIDE = 320  # colorizer training resizes photos to a 224-320 px short side anyway

TASKS = {
    # task -> recipe on the device (lent H200: 16 CPU cores); the model comes from the --init file
    "deblur": {
        "patch": 256,
        "batch": 32,
        "lr": 1e-3,
        "warmup": 200,
        "amp": "bf16",
        "val_every": 500,
        "synth_device": "auto",  # the blur is made on the GPU (restore_cli/data/degrade.py)
        "sources": ("train",),
    },
    "colorize": {
        "patch": 128,
        "batch": 64,
        "lr": 5e-4,
        "warmup": 100,
        "amp": "none",  # the 313-bin loss stays fp32 (TF32 matmuls are allowed instead)
        "val_every": 500,
        "sources": ("train", "train-color"),
    },
}


# --- packing (here) ---


def tree_bytes(repo: Path = REPO) -> int:
    """Bytes of the working tree that travels without carry: tracked and untracked-not-ignored files."""
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout
    total = 0
    for name in out.decode().split("\0"):
        path = repo / name
        if name and path.is_file():
            total += path.stat().st_size
    return total


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def parity_crop(img: np.ndarray, size: int) -> np.ndarray:
    """A centre crop of about ``size`` whose own centre crops equal the photo's (``center_crop`` of either).

    Each axis keeps ``size`` pixels, plus one when the photo's length differs from ``size`` by an odd count,
    so that the removed margins are equal and every later centre crop lands on the same pixels.
    """
    h, w = img.shape[:2]
    ch = h if h <= size else size + (h - size) % 2
    cw = w if w <= size else size + (w - size) % 2
    y, x = (h - ch) // 2, (w - cw) // 2
    return img[y : y + ch, x : x + cw]


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg",
        cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
        [
            cv2.IMWRITE_JPEG_QUALITY,
            int(quality),
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
        ],
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def shrink_short_side(rgb: np.ndarray, short: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    if min(h, w) <= short:
        return rgb
    f = short / min(h, w)
    return cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)


@dataclass
class Pack:
    folder: Path
    photos: int
    photos_total: int
    quality: int
    data_bytes: int
    travel_bytes: int


def evenly(n_keep: int, n: int) -> list[int]:
    """``n_keep`` indices spread evenly over ``range(n)`` (every folder keeps its share)."""
    if n_keep >= n:
        return list(range(n))
    return sorted({int(i) for i in np.linspace(0, n - 1, n_keep).round()})


def pack(
    task: str,
    data_root: Path,
    out: Path,
    init: Path,
    limit: int = TRAVEL_LIMIT,
    tracked: int | None = None,
    max_photos: int = 0,
) -> Pack:
    """Write ``out`` (init weights, train pack, val crops, kernels, pack.json) so the travelling tree fits."""
    from restore_cli.data.datasets import find_images
    from restore_cli.io import read_rgb8, write_rgb8

    recipe = TASKS[task]
    if out.exists():
        shutil.rmtree(out)
    (out / "data").mkdir(parents=True)
    if is_tracked(init):  # it travels with the tree anyway: pack only its path
        (out / "init.txt").write_text(str(init.resolve().relative_to(REPO)) + "\n")
    else:
        shutil.copy2(init, out / "init.safetensors")
    val_src = data_root / "val"
    val_crop = VAL_SIZE
    if task == "deblur":
        from restore_cli.data.validation import load_kernels

        val_crop += 2 * (max(max(k.shape) for k in load_kernels(data_root / "kernels")) // 2 + 2)
    for path in find_images(val_src)[:VAL_PHOTOS]:
        rel = path.relative_to(val_src).with_suffix(".png")
        dst = out / "data" / "val" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        write_rgb8(parity_crop(read_rgb8(path), val_crop), dst)
    if task == "deblur":
        shutil.copytree(data_root / "kernels", out / "data" / "kernels")
    tracked = tree_bytes() if tracked is None else tracked
    budget = limit - SAFETY - tracked - folder_bytes(out)
    if budget <= 0:
        raise SystemExit(
            f"no room for training data: tree {tracked / MIB:.1f} MiB + init/val already at the limit"
        )

    paths: list[tuple[Path, Path]] = []
    for source in recipe["sources"]:
        root = data_root / source
        paths += [(p, Path(source) / p.relative_to(root)) for p in find_images(root)]
    if max_photos:
        paths = [paths[i] for i in evenly(max_photos, len(paths))]
    photos = []
    for path, rel in paths:
        rgb = read_rgb8(path)
        shape = rgb.shape
        if task == "colorize":
            rgb = shrink_short_side(rgb, COLOR_SHORT_SIDE)
        # A photo that is a JPEG already and needs no resizing keeps its own bytes when they are smaller
        # (re-encoding would only add a generation of loss).
        original = None
        if path.suffix.lower() in (".jpg", ".jpeg") and rgb.shape == shape:
            original = path.read_bytes()
        photos.append((rel, rgb, original))
    chosen: list[tuple[Path, bytes]] = []
    quality = QUALITIES[0]
    for quality in QUALITIES:
        chosen = []
        for rel, rgb, original in photos:
            data = encode_jpeg(rgb, quality)
            chosen.append((rel, original if original is not None and len(original) <= len(data) else data))
        if sum(len(b) for _, b in chosen) <= budget:
            break
    while sum(len(b) for _, b in chosen) > budget:  # still too big at the lowest quality: drop photos evenly
        sizes = [len(b) for _, b in chosen]
        keep = max(1, int(len(chosen) * budget / sum(sizes) * 0.98))
        chosen = [chosen[i] for i in evenly(keep, len(chosen))]
    for rel, data in chosen:
        dst = out / "data" / "train" / rel.with_suffix(".jpg")
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(data)
    data_bytes = folder_bytes(out)
    result = Pack(out, len(chosen), len(paths), quality, data_bytes, tracked + data_bytes)
    (out / "pack.json").write_text(
        json.dumps(
            {
                "task": task,
                "photos": result.photos,
                "photos_total": result.photos_total,
                "jpeg_quality": quality,
                "sources": [str(data_root / s) for s in recipe["sources"]],
                "pack_bytes": data_bytes,
                "tree_bytes": tracked,
                "travel_bytes": result.travel_bytes,
                "limit_bytes": limit,
            },
            indent=2,
        )
    )
    if result.travel_bytes > limit - SAFETY:
        raise SystemExit(f"pack too large: {result.travel_bytes / MIB:.1f} MiB would travel")
    return result


def is_tracked(path: Path) -> bool:
    """True when ``path`` is a file git tracks in this repository (so it travels with the working tree)."""
    try:
        rel = path.resolve().relative_to(REPO)
    except ValueError:
        return False
    done = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--error-unmatch", str(rel)], capture_output=True, check=False
    )
    return done.returncode == 0


def init_file(pack_dir: Path) -> Path:
    """The --init weights of a pack: packed as a file, or named by its path in the repository."""
    if (pack_dir / "init.safetensors").is_file():
        return pack_dir / "init.safetensors"
    return REPO / (pack_dir / "init.txt").read_text().strip()


def shipped_default(task: str) -> tuple[str, Path]:
    """(manifest name, file) of the shipped default for ``task``."""
    manifest = json.loads((REPO / "weights" / "manifest.json").read_text())
    for entry in manifest["weights"]:
        if task in entry.get("default_for", []):
            return entry["name"], REPO / "weights" / entry["file"]
    raise SystemExit(f"no shipped default for {task} in weights/manifest.json")


# --- training (there) ---


def gpu_sampler(out: Path):
    """Sample GPU utilisation once a second into ``out/gpu.csv`` (None without nvidia-smi)."""
    if shutil.which("nvidia-smi") is None:
        return None
    handle = open(out / "gpu.csv", "w")  # noqa: SIM115 - closed when the sampler ends
    return subprocess.Popen(
        [
            "nvidia-smi",
            "--query-gpu=timestamp,utilization.gpu,memory.used",
            "--format=csv,noheader,nounits",
            "-lms",
            "1000",
        ],
        stdout=handle,
        stderr=subprocess.DEVNULL,
    )


def mean_utilisation(csv: Path) -> float | None:
    values = []
    if csv.is_file():
        for line in csv.read_text().splitlines():
            parts = [p.strip() for p in line.split(",")]
            if len(parts) >= 2 and parts[1].replace(".", "").isdigit():
                values.append(float(parts[1]))
    # The first and last seconds are start-up and export; the middle is what training keeps busy.
    middle = values[len(values) // 10 : len(values) - len(values) // 10] if len(values) > 10 else values
    return float(np.mean(middle)) if middle else None


def train_on_device(
    task: str,
    pack_dir: Path,
    out: Path,
    seconds: float,
    started: float,
    overrides: dict | None = None,
    dataset=None,
) -> dict:
    """Train from the pack for about ``seconds`` (counted from ``started``), write export, log and summary."""
    import torch

    from restore_cli.train.config import build_config
    from restore_cli.weights import read_metadata

    recipe = {k: v for k, v in TASKS[task].items() if k != "sources"}
    recipe.update(overrides or {})
    init = init_file(pack_dir)
    meta = read_metadata(init)
    name = str(meta.get("name") or "") or ("nafnet-w16-deblur" if task == "deblur" else "unet-colorize")
    if (pack_dir / "name.txt").is_file():
        name = (pack_dir / "name.txt").read_text().strip()
    out.mkdir(parents=True, exist_ok=True)
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    workers = max(1, min(14, (os.cpu_count() or 2) - 2))
    # The data set is decoded before training starts: give the schedule what is left after that.
    options = dict(
        task=task,
        data=str(pack_dir / "data" / "train"),
        val=str(pack_dir / "data" / "val"),
        val_limit=VAL_PHOTOS,
        arch=str(meta["arch"]),
        init=str(init),
        workers=workers,
        threads=0,
        export_best=True,
        checkpoint=str(Path(tempfile.gettempdir()) / f"gpu_train_{task}.ckpt.pt"),
        checkpoint_every=0,
        log=str(out / "train.log.jsonl"),
        out=str(out / f"{name}.safetensors"),
        log_every=20,
        fit_schedule=seconds,  # provisional: set again once the photos are decoded
        **recipe,
    )
    if task == "deblur":
        options["val_kernels"] = str(pack_dir / "data" / "kernels")
    sampler = gpu_sampler(out)
    try:
        # Dataset decoding happens in the trainer's constructor; fit the schedule to what is left after it.
        cfg = build_config(None, **options)
        cfg.check()
        trainer_cls = _trainer_class(task)
        if dataset is not None:  # decoded already (by the probe): only say where its blur is made
            from restore_cli.train.trainer import pick_device, synth_on_device

            dataset.on_device = synth_on_device(cfg, pick_device(cfg.device))
        trainer = trainer_cls(cfg, dataset=dataset)
        left = seconds - (time.monotonic() - started)
        trainer.cfg.fit_schedule = max(5.0, left)
        trainer.cfg.time_limit = max(6.0, left + 15.0)  # a hard stop in case the rate drops
        t0 = time.monotonic()
        result = trainer.run()
        train_s = time.monotonic() - t0
    finally:
        if sampler is not None:
            sampler.terminate()
            sampler.wait()
    fitted = _schedule_record(out / "train.log.jsonl")
    summary = {
        "task": task,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "iterations": result.iteration,
        "total_iterations": result.total_iterations,
        "batch": cfg.batch,
        "patch": cfg.patch,
        "train_s": round(train_s, 1),
        "rate_it_s": fitted.get("rate_it_s"),
        "samples_per_s": round(fitted.get("rate_it_s", 0.0) * cfg.batch, 1),
        "fitted_iters": fitted.get("iters"),
        "stopped_by": result.stopped_by,
        "val": result.val,
        "gpu_util_mean": mean_utilisation(out / "gpu.csv"),
        "workers": workers,
        "synth_device": cfg.synth_device,
        "export": result.out,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


PROBES = {
    # name -> overrides; "worker" is the synthesis of the 2026-11 H200 runs (330 samples/s there)
    "worker": {"synth_device": "worker"},
    "device": {"synth_device": "device"},
    "device+channels_last": {"synth_device": "device", "channels_last": True},
    "device+compile": {"synth_device": "device", "compile": True},
}


def probe(
    task: str,
    pack_dir: Path,
    out: Path,
    iters: int = 80,
    names: list[str] | None = None,
    overrides: dict | None = None,
    dataset=None,
):
    """Samples/s of each synthesis/memory/compile choice, ``iters`` iterations each, photos decoded once.

    Writes ``out/probe.json`` (only that file: ``$OUT`` returns at most 8); returns (rows, the dataset).
    """
    import torch

    from restore_cli.train.config import build_config
    from restore_cli.train.trainer import build_train_dataset, fit_points
    from restore_cli.weights import read_metadata

    if task != "deblur":
        raise SystemExit("probe measures the deblurring synthesis; use --task deblur")
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="gpu_train_probe_"))
    recipe = {k: v for k, v in TASKS[task].items() if k not in ("sources", "val_every")}
    init = init_file(pack_dir)
    workers = max(1, min(14, (os.cpu_count() or 2) - 2))
    # Batches the loader prefetched arrive at once: time only after them (as --fit-schedule does).
    untimed = fit_points(workers)[0]
    iters = max(iters, untimed + 40)
    base = dict(
        task=task,
        data=str(pack_dir / "data" / "train"),
        arch=str(read_metadata(init)["arch"]),
        init=str(init),
        workers=workers,
        threads=0,
        val_every=0,
        checkpoint_every=0,
        log_every=10,
        iters=iters,
        **{**recipe, **(overrides or {})},
    )
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
    if dataset is None:
        dataset = build_train_dataset(build_config(None, **base))
    rows = []
    for name in names or list(PROBES):
        options = {**base, **PROBES[name], "log": str(scratch / f"probe-{name}.log.jsonl")}
        cfg = build_config(None, **options)
        cfg.check()
        dataset.on_device = PROBES[name].get("synth_device") == "device"
        sampler = gpu_sampler(scratch)
        csv = scratch / "gpu.csv"
        try:
            t0 = time.monotonic()
            _trainer_class(task)(cfg, dataset=dataset).run()
            wall = time.monotonic() - t0
        finally:
            if sampler is not None:
                sampler.terminate()
                sampler.wait()
        records = [json.loads(line) for line in Path(options["log"]).read_text().splitlines()]
        rates = [
            r["it_s"] for r in records if r.get("event") == "train" and r["iteration"] > untimed and r["it_s"]
        ]
        rate = float(np.median(rates)) if rates else None
        row = {
            "config": name,
            "it_s": rate,
            "samples_per_s": round(rate * cfg.batch, 1) if rate else None,
            "gpu_util_mean": mean_utilisation(csv),
            "wall_s": round(wall, 1),
        }
        if csv.is_file():
            csv.unlink()
        rows.append(row)
        print(json.dumps(row), flush=True)
    (out / "probe.json").write_text(json.dumps(rows, indent=2))
    shutil.rmtree(scratch, ignore_errors=True)
    return rows, dataset


def _trainer_class(task: str):
    if task == "colorize":
        from restore_cli.train.colorize import ColorizeTrainer

        return ColorizeTrainer
    from restore_cli.train.trainer import DeblurTrainer

    return DeblurTrainer


def _schedule_record(log: Path) -> dict:
    if not log.is_file():
        return {}
    last: dict = {}
    for line in log.read_text().splitlines():
        record = json.loads(line)
        if record.get("event") == "schedule":
            last = record  # the trainer refits once the rate settles: the last fit is the one that ran
    return last


# --- shipping (here) ---


def psnr_by_weights(report: dict) -> dict[str, float]:
    """PSNR of each model row of a ``restore bench --json`` report, keyed by the resolved weights path."""
    out = {}
    for record in report.get("records", []):
        if record.get("weights") and record.get("psnr") is not None:
            out[str(Path(record["weights"]).resolve())] = float(record["psnr"])
    return out


def bench_psnr(task: str, weights: list[Path], dataset: Path, out_json: Path) -> dict[str, float]:
    """``restore bench`` on ``dataset`` for each weights file in one run; PSNR keyed by resolved path."""
    cmd = [sys.executable, "-m", "restore_cli", "bench", "--task", task, "--dataset", str(dataset)]
    for w in weights:
        cmd += ["--weights", str(w)]
    cmd += ["--json", str(out_json)]
    subprocess.run(cmd, check=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    return psnr_by_weights(json.loads(out_json.read_text()))


def ship(candidate: Path, name: str, weights_dir: Path) -> Path:
    """Copy ``candidate`` over the manifest entry ``name``'s file and record its sha256 and size."""
    from restore_cli.weights import sha256_file

    manifest_path = weights_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    entry = next(e for e in manifest["weights"] if e["name"] == name)
    target = weights_dir / entry["file"]
    shutil.copy2(candidate, target)
    entry["sha256"] = sha256_file(target)
    entry["size_bytes"] = target.stat().st_size
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return target


def finish(task: str, candidate: Path, data_root: Path, work: Path, replace: bool = True) -> dict:
    """Bench candidate vs shipped on val; replace the shipped file only when val PSNR improves."""
    name, shipped = shipped_default(task)
    work.mkdir(parents=True, exist_ok=True)
    if task == "deblur":
        dataset = work / "valbench" / "synth"
        if not dataset.is_dir():
            subprocess.run(
                [sys.executable, "-m", "restore_cli", "data", "synth", "--sharp", str(data_root / "val"),
                 "--out", str(work / "valbench"), "--kernels", str(data_root / "kernels")],
                check=True,
                cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )  # fmt: skip
    else:
        dataset = data_root / "val"
    staged = work / "candidate" / f"candidate-{shipped.name}"  # its own row name in the bench
    staged.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(candidate, staged)
    psnr = bench_psnr(task, [shipped, staged], dataset, work / "bench.json")
    old = psnr.get(str(shipped.resolve()))
    new = psnr.get(str(staged.resolve()))
    if old is None or new is None:
        raise SystemExit(f"could not read both rows from the bench report {work / 'bench.json'}")
    report = {"shipped_psnr": old, "candidate_psnr": new, "gain_db": new - old, "replaced": False}
    if new > old and replace:
        ship(candidate, name, REPO / "weights")
        report["replaced"] = True
    print(json.dumps(report, indent=2))
    if report["replaced"]:
        print(f"replaced weights/{shipped.name}; now write the run into its model card in weights/README.md")
    return report


# --- command line ---


def device_call(task: str, seconds: int) -> dict:
    return {
        "command": f"PYTHONUNBUFFERED=1 python3 scripts/gpu_train.py device --task {task} "
        f"--seconds {seconds}",
        "carry": [".device"],
        "timeout_s": min(600, seconds + 60),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("pack", help="pack init weights and training data into .device/ (here)")
    p.add_argument("--task", choices=sorted(TASKS), default="deblur")
    p.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    p.add_argument("--init", type=Path, help="weights to continue from [the shipped default]")
    p.add_argument("--out", type=Path, default=REPO / ".device")
    p.add_argument("--seconds", type=int, default=500, help="training time the device call will get")
    d = sub.add_parser("device", help="train from the pack (on the lent GPU)")
    d.add_argument("--task", choices=sorted(TASKS), default="deblur")
    d.add_argument("--pack", type=Path, default=REPO / ".device")
    d.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_out")))
    d.add_argument(
        "--seconds", type=float, default=500.0, help="wall time of this command, start-up included"
    )
    d.add_argument("--synth-device", choices=("auto", "worker", "device"), help="override the recipe's")
    d.add_argument("--compile", action="store_true", help="torch.compile the training forward")
    d.add_argument(
        "--probe",
        help="first measure these PROBES (e.g. worker,device,device+channels_last; 60 iterations each) and "
        "train with the fastest; the time counts against --seconds",
    )
    d.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    q = sub.add_parser("probe", help="samples/s of worker vs device synthesis, channels_last, compile (GPU)")
    q.add_argument("--task", choices=sorted(TASKS), default="deblur")
    q.add_argument("--pack", type=Path, default=REPO / ".device")
    q.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_out")))
    q.add_argument("--iters", type=int, default=80)
    q.add_argument("--only", help=f"comma-separated subset of {','.join(PROBES)}")
    f = sub.add_parser("finish", help="bench the returned file and ship it if val improves (here)")
    f.add_argument("--task", choices=sorted(TASKS), default="deblur")
    f.add_argument("--candidate", type=Path, required=True)
    f.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    f.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "gpu_train")
    f.add_argument("--bench-only", action="store_true", help="bench both files, replace nothing")
    r = sub.add_parser("dry-run", help="pack a few photos and train a tiny model here for a few seconds")
    r.add_argument("--task", choices=sorted(TASKS), default="deblur")
    r.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    r.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    started = time.monotonic()

    if args.verb == "pack":
        name, shipped = shipped_default(args.task)
        result = pack(args.task, args.data_root, args.out, args.init or shipped)
        (args.out / "name.txt").write_text(name + "\n")
        print(
            f"packed {result.photos} of {result.photos_total} photos (JPEG q{result.quality}, 4:4:4) into "
            f"{result.folder}: {result.data_bytes / MIB:.1f} MiB; the tree that travels: "
            f"{result.travel_bytes / MIB:.1f} of {TRAVEL_LIMIT / MIB:.0f} MiB"
        )
        print("device run:", json.dumps(device_call(args.task, args.seconds)))
        return 0
    if args.verb == "device":
        overrides = {"compile": args.compile, "channels_last": args.channels_last}
        if args.synth_device:
            overrides["synth_device"] = args.synth_device
        dataset = None
        if args.probe:
            rows, dataset = probe(args.task, args.pack, args.out, 60, args.probe.split(","))
            best = max((r for r in rows if r["samples_per_s"]), key=lambda r: r["samples_per_s"])
            overrides.update(PROBES[best["config"]])
            print(f"probe: training with {best['config']} ({best['samples_per_s']} samples/s)", flush=True)
        summary = train_on_device(args.task, args.pack, args.out, args.seconds, started, overrides, dataset)
        print(json.dumps(summary, indent=2))
        for path in args.out.iterdir():
            if path.stat().st_size > RETURN_FILE_LIMIT:
                print(f"warning: {path.name} is over 16 MiB and will not come back", file=sys.stderr)
        return 0
    if args.verb == "probe":
        probe(args.task, args.pack, args.out, args.iters, args.only.split(",") if args.only else None)
        return 0
    if args.verb == "finish":
        finish(args.task, args.candidate, args.data_root, args.work, replace=not args.bench_only)
        return 0
    # dry-run: a pack of a few photos with a tiny limit, then the device part on CPU with a tiny model.
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        init = tiny_init(args.task, tmp_path / "tiny.safetensors")
        result = pack(args.task, args.data_root, tmp_path / "pack", init, max_photos=6)
        print(f"dry pack: {result.photos} photos, q{result.quality}, {result.data_bytes / MIB:.2f} MiB")
        overrides = {"patch": 64, "batch": 2, "val_every": 0, "amp": "none", "warmup": 50}
        dataset = None
        out = tmp_path / "out"
        if args.task == "deblur":  # as `device --probe worker,device`: a few iterations of each path
            small = {k: overrides[k] for k in ("patch", "batch", "amp")}
            rows, dataset = probe(args.task, tmp_path / "pack", out, 30, ["worker", "device"], small)
            best = max((r for r in rows if r["samples_per_s"]), key=lambda r: r["samples_per_s"])
            overrides.update(PROBES[best["config"]])
        summary = train_on_device(
            args.task, tmp_path / "pack", out, args.seconds, started, overrides, dataset
        )
        print(json.dumps(summary, indent=2))
        print("files for $OUT:", sorted(f.name for f in out.iterdir()))
    return 0


def tiny_init(task: str, path: Path) -> Path:
    """A tiny random model of the task's architecture, saved as an --init file (dry runs only)."""
    from restore_cli.models import create_model, get_arch
    from restore_cli.weights import save_weights

    arch = "nafnet" if task == "deblur" else "unet"
    hyper = (
        {"width": 4, "enc_blocks": [1], "middle_blocks": 1, "dec_blocks": [1]}
        if task == "deblur"
        else {"base": 4, "depth": 2, "head": "ab"}
    )
    hyper = get_arch(arch).hyper(**hyper)
    save_weights(path, create_model(arch, **hyper), arch, hyper, meta={"training": {"iterations": 0}})
    return path


if __name__ == "__main__":
    sys.exit(main())
