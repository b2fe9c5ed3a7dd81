"""Whole `restore deblur` of one 720p photo, start-up included: wall and CPU seconds, and where they go.

    .venv/bin/python benchmarks/startup.py --photo photo.jpg       # writes benchmarks/results/startup.*
    .venv/bin/python benchmarks/startup.py --photo photo.jpg --baseline /tmp/old-checkout --rounds 7

Each round runs, as subprocesses: ``python -c pass``, ``python -c 'import torch'``, ``restore deblur`` of
a 64x64 copy of the photo (start-up alone: the model takes milliseconds there) and ``restore deblur PHOTO``
(``restore_cli.cli.main`` behind an exit stamp, see PRELUDE), each with ``--threads 1`` and ``--threads 2``
(the default picks by load average, so it is not timed: it would mix the two). With ``--baseline ROOT``
the same commands also run from that checkout (an older commit, e.g. from ``git archive``), interleaved
round by round, so both see the same load. Medians are reported with the 1-minute load average taken
before each run (the machine is shared).

Then one traced run per checkout and thread count gives the stages: wall-clock stamps around the
functions a deblur goes through (import, option parsing, torch import and engine, weights, start line,
decode, inference form, model, encode). Stamps are taken by wrapping functions by name; one that a
checkout lacks is left out of its table. The exit is in the timing table ('exit s'), stamped the same
way in untraced runs.

Without ``--photo`` a smooth synthetic 1280x720 image is used (PNG encoding time depends on content; a
real photo is more telling). Bytecode: the commands run with ``PYTHONDONTWRITEBYTECODE`` removed, so the
checkout's modules are compiled once and then loaded from ``__pycache__``, as an installed package is.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
WIDTH, HEIGHT = 1280, 720

# Runs in the traced child: stamps (name, start, seconds) around functions, written as JSON at exit.
# Functions of modules that import torch are wrapped only once the engine exists (after torch's import),
# so the trace does not move the import.
TRACER = r"""
import atexit, functools, importlib, json, os, resource, sys, time
stamps = []
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def dump():  # registered first, so it runs after every other atexit handler: what follows is finalization
    stamps.append(("atexit", time.time(), 0.0, faults()))
    with open(os.environ["STARTUP_TRACE"], "w") as f:
        json.dump(stamps, f)
atexit.register(dump)
def wrap(modname, attr):
    try:
        obj = importlib.import_module(modname)
        parts = attr.split(".")
        for part in parts[:-1]:
            obj = getattr(obj, part)
        raw = getattr(obj, parts[-1])
    except (ImportError, AttributeError):
        return
    @functools.wraps(raw)
    def timed(*args, **kwargs):
        start, before = time.time(), faults()
        try:
            return raw(*args, **kwargs)
        finally:
            stamps.append((attr, start, time.time() - start, faults() - before))
    setattr(obj, parts[-1], timed)
started, before = time.time(), faults()
import restore_cli.cli as cli
from restore_cli.cli import common
stamps.append(("import restore_cli.cli", started, time.time() - started, faults() - before))
for name in ("set_debug", "make_engine", "announce"):
    wrap("restore_cli.cli.common", name)
wrap("restore_cli.weights", "load_model")  # torch-free at import; commands import it before the engine
LATE = [("restore_cli.io", "read_image"), ("restore_cli.io", "write_image"),
        ("restore_cli.models.descriptor", "ModelDescriptor.inference_module"),
        ("restore_cli.engine", "Engine._forward")]
made = common.make_engine
def make_engine(*args, **kwargs):
    engine = made(*args, **kwargs)
    for modname, attr in LATE:
        wrap(modname, attr)
    return engine
common.make_engine = make_engine
sys.argv = ["restore"] + sys.argv[1:]
cli.main()
"""


# The timed commands run `restore` through this prelude: one atexit handler, registered before anything else
# so that it runs after all others, stamps the moment Python's finalization starts (the exit column).
PRELUDE = r"""
import atexit, sys, time
atexit.register(lambda: print("EXIT-STAMP", repr(time.time()), file=sys.stderr))
sys.argv = ["restore"] + sys.argv[1:]
from restore_cli.cli import main
main()
"""


def make_photo(folder: Path) -> Path:
    """A smooth synthetic 1280x720 RGB photo (gradients and soft shapes), saved as JPEG."""
    import numpy as np
    from PIL import Image

    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    r = 128 + 90 * np.sin(xx / 97.0) * np.cos(yy / 61.0)
    g = 128 + 70 * np.cos((xx + yy) / 143.0)
    b = 110 + 60 * np.sin(np.hypot(xx - 640, yy - 360) / 40.0)
    pixels = np.clip(np.stack([r, g, b], axis=2), 0, 255).astype(np.uint8)
    path = folder / "synthetic_720p.jpg"
    Image.fromarray(pixels).save(path, quality=92)
    return path


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "OMP_NUM_THREADS")}
    env.pop("RESTORE_THREADS", None)
    env["PYTHONPATH"] = str(root)
    return env


def _run(command: list[str], env: dict[str, str]) -> dict[str, float | None]:
    """Wall s, CPU s, system s, minor page faults and seconds from the exit stamp to the process's end (if
    stamped) of one subprocess."""
    # cwd is the checkout itself: ``python -c`` puts the working folder first on sys.path, ahead of
    # PYTHONPATH, so run from another checkout it would import that one's restore_cli.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=env["PYTHONPATH"], check=True, capture_output=True, text=True)
    ended = time.time()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    system = after.ru_stime - before.ru_stime
    stamps = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("EXIT-STAMP ")]
    return {
        "wall": wall,
        "cpu": after.ru_utime - before.ru_utime + system,
        "sys": system,
        "faults": after.ru_minflt - before.ru_minflt,
        "exit": (ended - float(stamps[-1])) if stamps else None,
    }


def commands(photo: Path, out: Path) -> dict[str, list[str]]:
    """The timed commands; a 64x64 copy of the photo isolates start-up (its model run takes milliseconds)."""
    from PIL import Image

    small = out.with_name("small_64.png")
    with Image.open(photo) as image:
        image.convert("RGB").resize((64, 64)).save(small)
    deblur = [sys.executable, "-c", PRELUDE, "deblur", str(photo), "-o", str(out), "--overwrite"]
    startup = [sys.executable, "-c", PRELUDE, "deblur", str(small), "-o", str(out), "--overwrite"]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import torch": [sys.executable, "-c", "import torch"],
        "restore deblur 64x64 --threads 1": [*startup, "--threads", "1"],
        "restore deblur 64x64 --threads 2": [*startup, "--threads", "2"],
        "restore deblur --threads 1": [*deblur, "--threads", "1"],
        "restore deblur --threads 2": [*deblur, "--threads", "2"],
    }


def measure(roots: dict[str, Path], photo: Path, rounds: int, folder: Path) -> dict:
    """Interleaved rounds over every checkout and command; medians of wall and CPU seconds."""
    cmds = commands(photo, folder / "out.png")
    samples: dict[tuple[str, str], list[dict[str, float | None]]] = {}
    for _ in range(rounds):
        for label, root in roots.items():
            for name, command in cmds.items():
                if label != "current" and not name.startswith("restore"):
                    continue  # interpreter and torch do not depend on the checkout
                load = os.getloadavg()[0]
                run = {**_run(command, _env(root)), "load": load}
                samples.setdefault((label, name), []).append(run)
                wall, cpu = run["wall"], run["cpu"]
                line = f"{label:9s} {name:34s} {wall:6.2f} s wall {cpu:6.2f} s CPU  load {load:.1f}"
                print(line, flush=True)
    rows = []
    for (label, name), runs in samples.items():
        rows.append(
            {
                "checkout": label,
                "command": name,
                "wall_s": statistics.median(r["wall"] for r in runs),
                "cpu_s": statistics.median(r["cpu"] for r in runs),
                "sys_s": statistics.median(r["sys"] for r in runs),
                "faults": statistics.median(r["faults"] for r in runs),
                "min_wall_s": min(r["wall"] for r in runs),
                "loadavg_median": statistics.median(r["load"] for r in runs),
                "exit_s": statistics.median(r["exit"] for r in runs) if runs[0]["exit"] is not None else None,
                "runs": runs,
            }
        )
    return {"rows": rows}


STAGES = [
    ("interpreter start", None),
    ("import restore_cli.cli", "import restore_cli.cli"),
    ("option parsing (typer)", None),
    ("torch import + engine", "make_engine"),
    ("weights load", "load_model"),
    ("start line", "announce"),
    ("decode", "read_image"),
    ("inference form", "ModelDescriptor.inference_module"),
    ("model", "Engine._forward"),
    ("encode + write", "write_image"),
]


def trace(root: Path, photo: Path, threads: int, folder: Path) -> dict[str, float]:
    """Seconds per stage of one traced run (wall clock; gaps between stamps go to 'other'), and the minor
    page faults of each stamped stage ('<stage> faults')."""
    stamp_file = folder / "trace.json"
    env = {**_env(root), "STARTUP_TRACE": str(stamp_file)}
    out = folder / "out.png"
    command = [sys.executable, "-c", TRACER, "deblur", str(photo), "-o", str(out), "--overwrite"]
    started = time.time()
    subprocess.run([*command, "--threads", str(threads)], env=env, cwd=root, check=True, capture_output=True)
    ended = time.time()
    stamps = json.loads(stamp_file.read_text())
    first = {name: (start, seconds) for name, start, seconds, _ in reversed(stamps)}
    faults = {name: count for name, _, _, count in reversed(stamps)}
    out: dict[str, float] = {}
    imported = first.get("import restore_cli.cli")
    if imported:
        out["interpreter start"] = imported[0] - started
    if imported and "set_debug" in first:
        out["option parsing (typer)"] = first["set_debug"][0] - (imported[0] + imported[1])
    for label, name in STAGES:
        if name and name in first:
            out[label] = first[name][1]
    out["total"] = ended - started
    out["other"] = out["total"] - sum(v for k, v in out.items() if k != "total")
    for label, name in STAGES:
        if name and name in faults:
            out[f"{label} faults"] = faults[name]
    if "atexit" in faults:
        out["total faults"] = faults["atexit"]  # the process's count when the last atexit handler ran
    return out


def paired(rows: list[dict]) -> list[str]:
    """Current against baseline round by round: on a shared machine the load drifts over minutes, so the
    ratio of two runs a few seconds apart says more than the ratio of two medians."""
    by = {(r["checkout"], r["command"]): r["runs"] for r in rows}
    names = [r["command"] for r in rows if r["checkout"] == "baseline"]
    if not names:
        return []
    lines = [
        "",
        "Current against baseline in the same round (medians over rounds):",
        "",
        "| command | wall ratio | wall s saved | CPU s saved | rounds current faster |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in names:
        pairs = list(zip(by[("current", name)], by[("baseline", name)], strict=False))
        ratio = statistics.median(c["wall"] / b["wall"] for c, b in pairs)
        saved = statistics.median(b["wall"] - c["wall"] for c, b in pairs)
        cpu = statistics.median(b["cpu"] - c["cpu"] for c, b in pairs)
        faster = sum(c["wall"] < b["wall"] for c, b in pairs)
        lines.append(f"| `{name}` | {ratio:.2f} | {saved:.2f} | {cpu:.2f} | {faster} of {len(pairs)} |")
    return lines


def markdown(data: dict) -> str:
    lines = [
        f"# Whole `restore deblur` of one {WIDTH}x{HEIGHT} photo, start-up included",
        "",
        f"{data['date_utc']} UTC, {os.cpu_count()} cores, photo `{data['photo']}`, {data['rounds']} "
        "interleaved rounds, medians. A shared machine: the load average before each run is given; compare "
        "checkouts within one table (they ran interleaved).",
        "",
        "| checkout | command | wall s | min wall s | CPU s | sys s | page faults | exit s | load avg |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["timing"]["rows"]:
        exit_s = f"{r['exit_s']:.2f}" if r.get("exit_s") is not None else ""
        lines.append(
            f"| {r['checkout']} | `{r['command']}` | {r['wall_s']:.2f} | {r['min_wall_s']:.2f} | "
            f"{r['cpu_s']:.2f} | {r['sys_s']:.2f} | {r['faults']:,.0f} | {exit_s} | "
            f"{r['loadavg_median']:.1f} |"
        )
    lines += [
        "",
        "'sys s': CPU seconds in the kernel (most of it zeroing fresh pages: 'page faults' counts the minor "
        "faults). 'exit s': from the start of Python's finalization (after the last atexit handler) to the "
        "end of the process.",
    ]
    lines += paired(data["timing"]["rows"])
    lines += ["", "## Stages of one traced run (wall seconds)", ""]
    traces = data["stages"]
    columns = list(traces)
    lines += ["| stage | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for label in [s for s, _ in STAGES] + ["other", "total"]:
        cells = [f"{traces[c][label]:.3f}" if label in traces[c] else "" for c in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "Minor page faults of the same runs:", ""]
    lines += ["| stage | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for label in [s for s, name in STAGES if name] + ["total"]:
        key = label + " faults"
        cells = [f"{traces[c][key]:,}" if key in traces[c] else "" for c in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "'other' is what falls between the stamps (input planning, the gray check, tiling, the summary "
        "line, the exit).",
        "",
        "Regenerate with `.venv/bin/python benchmarks/startup.py --photo PHOTO [--baseline OLD_CHECKOUT]`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, help="the photo to deblur (default: a synthetic 1280x720 one)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians are reported)")
    parser.add_argument("--baseline", type=Path, help="another checkout to time in the same rounds")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for startup.md / .json")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="restore-startup-"))
    photo = args.photo or make_photo(folder)
    roots = {"current": ROOT}
    if args.baseline:
        roots["baseline"] = args.baseline.resolve()
    for root in roots.values():  # compile once, so every timed run loads bytecode
        subprocess.run(
            [sys.executable, "-c", "import compileall, sys; compileall.compile_dir(sys.argv[1], quiet=1)",
             str(root / "restore_cli")], env=_env(root), check=True,
        )  # fmt: skip
    data = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "photo": str(photo),
        "rounds": args.rounds,
        "loadavg_at_start": os.getloadavg(),
        "timing": measure(roots, photo, args.rounds, folder),
        "stages": {
            f"{label}, {threads} thread(s)": trace(root, photo, threads, folder)
            for label, root in roots.items()
            for threads in (1, 2)
        },
        "loadavg_at_end": os.getloadavg(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "startup.json").write_text(json.dumps(data, indent=2) + "\n")
    text = markdown(data)
    (args.out / "startup.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
