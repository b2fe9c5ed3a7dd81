"""Faults, signals and hostile files: each case is a user's or an environment's problem, so each gets one line
naming the file or setting (never "please report it"), nothing is lost and nothing outside the folder meant
is touched.

Permission cases cannot be produced as root (root reads and writes anyway): they run through a real OS error
where one exists for root too (a file where a folder should be), through a monkeypatched OS error otherwise,
and for real only when the tests run as a normal user.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

from restore_cli import batch, fsutil
from restore_cli import weights as W
from restore_cli.errors import BadWeightsError, UsageError
from restore_cli.models import create_model
from tests.test_cli import errors_in, invoke, stderr_of, write_photo

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
TINY_NAFNET = {"width": 4, "enc_blocks": [1], "middle_blocks": 1, "dec_blocks": [1]}


def one_error(result, *needles: str) -> str:
    """The single ``error:`` line of a result, checked to name every needle and to blame no bug."""
    err = stderr_of(result)
    lines = errors_in(err)
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "please report" not in err and "Traceback" not in err, err
    return lines[0]


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


def nafnet_checkpoint(path: Path, **replace: torch.Tensor) -> Path:
    torch.manual_seed(0)
    state = create_model("nafnet", **TINY_NAFNET).state_dict()
    state.update(replace)
    torch.save({"params": state}, path)
    return path


# ------------------------------------------------------------------ 1. names never lead outside their folder


def test_import_name_with_a_path_is_refused_before_anything_is_written(
    cli_runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import restore_cli.weights_import as wi

    ckpt = nafnet_checkpoint(tmp_path / "up.pth")
    home = tmp_path / "a" / "home"
    monkeypatch.setenv("RESTORE_HOME", str(home))  # weights go to a/home/weights: ../../victim is a/victim
    victim = tmp_path / "a" / "victim" / "keep.safetensors"
    victim.parent.mkdir(parents=True)
    victim.write_bytes(b"precious")
    read = []
    monkeypatch.setattr(wi, "read_checkpoint", lambda path: read.append(path))

    result = invoke(cli_runner, "weights", "import", ckpt, "--name", "../../victim/keep")
    assert result.exit_code == 2
    one_error(result, "../../victim/keep")
    assert victim.read_bytes() == b"precious"
    assert read == []  # refused before the checkpoint was even read
    assert not home.exists()


def test_manifest_file_outside_its_folder_is_refused_and_never_deleted(
    cli_runner, tmp_path: Path, no_shipped_weights: Path
) -> None:
    victim = tmp_path / "victim.safetensors"
    victim.write_bytes(b"precious")
    folder = W.user_weights_dir()
    folder.mkdir(parents=True)
    record = {"name": "evil", "file": f"../../../../../../..{victim}", "sha256": "0" * 64}
    (folder / "manifest.json").write_text(json.dumps({"version": 1, "weights": [record]}))
    for args in (["weights", "remove", "evil"], ["weights", "list"]):
        result = invoke(cli_runner, *args)
        assert result.exit_code == 1
        one_error(result, "manifest.json", "weights[0].file")
    assert victim.read_bytes() == b"precious"


def test_contained_refuses_names_that_climb_out(tmp_path: Path) -> None:
    assert fsutil.contained(tmp_path, "a/b.png") == tmp_path / "a" / "b.png"
    assert fsutil.contained(tmp_path, "x/../b.png") == tmp_path / "x/../b.png"  # stays inside
    for name in ("../b.png", "a/../../b.png", "/etc/passwd", "", ".", "a\x00b"):
        with pytest.raises(ValueError):
            fsutil.contained(tmp_path, name)


def test_glob_climbing_above_its_root_cannot_write_outside_the_output_folder(tmp_path: Path) -> None:
    (tmp_path / "photos" / "x").mkdir(parents=True)
    write_photo(tmp_path / "photos" / "p.png")
    pattern = str(tmp_path / "photos" / "*" / ".." / ".." / "photos" / "p.png")
    items = batch.expand_inputs([pattern])
    jobs = batch.plan_outputs(items, output=tmp_path / "out" / "deep")
    assert [job.status for job in jobs] == ["failed"] and "outside -o" in jobs[0].message


# ------------------------------------------------------------------------------- 2. crafted checkpoints


def test_checkpoint_claiming_a_huge_tensor_is_refused_naming_the_file(cli_runner, tmp_path: Path) -> None:
    # A stride-0 view: 108 bytes in the file, [2000000, 3, 3, 3] claimed; the old import built a 32 TB model.
    ckpt = nafnet_checkpoint(
        tmp_path / "crafted.pth", **{"intro.weight": torch.zeros(1, 3, 3, 3).expand(2_000_000, 3, 3, 3)}
    )
    assert ckpt.stat().st_size < 1_000_000
    result = invoke(cli_runner, "weights", "import", ckpt)
    assert result.exit_code == 1
    one_error(result, "crafted.pth", "intro.weight", "2000000")


def test_sparse_tensor_in_a_checkpoint_is_refused(tmp_path: Path) -> None:
    import restore_cli.weights_import as wi

    bias = torch.zeros(4).to_sparse()
    with pytest.raises(BadWeightsError, match=r"sparse\.pth.*intro\.bias.*not a plain dense tensor"):
        wi.import_checkpoint(nafnet_checkpoint(tmp_path / "sparse.pth", **{"intro.bias": bias}))


def test_hyperparameters_from_one_tensor_are_checked_against_every_shape_before_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import restore_cli.weights_import as wi

    ckpt = nafnet_checkpoint(tmp_path / "wide.pth", **{"intro.weight": torch.zeros(50_000, 3, 3, 3)})
    built = []
    real_build = wi._build
    monkeypatch.setattr(wi, "_build", lambda c, p, *, meta: built.append(meta) or real_build(c, p, meta=meta))
    with pytest.raises(BadWeightsError, match=r"wide\.pth.*intro\.bias.*\[4\].*\[50000\]"):
        wi.import_checkpoint(ckpt)
    assert built == [True]  # only the meta-device model (no memory) was built, never the 50000-wide one


def test_too_many_values_in_all_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import restore_cli.weights_import as wi

    monkeypatch.setattr(wi, "MAX_VALUES", 100)
    with pytest.raises(BadWeightsError, match="more than any model"):
        wi.import_checkpoint(nafnet_checkpoint(tmp_path / "big.pth"))


# ------------------------------------------------------------------------------------ 10. zero-width layer


def test_zero_width_layer_is_one_line_without_torch_warnings(cli_runner, tmp_path: Path) -> None:
    ckpt = nafnet_checkpoint(tmp_path / "zero.pth", **{"intro.weight": torch.zeros(0, 3, 3, 3)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = invoke(cli_runner, "weights", "import", ckpt)
    assert result.exit_code == 1
    one_error(result, "zero.pth", "intro.weight", "empty dimension")
    assert not [w for w in caught if issubclass(w.category, UserWarning)], [str(w.message) for w in caught]
    assert "UserWarning" not in stderr_of(result)


# --------------------------------------------------------------------------- 3. SIGTERM, SIGHUP, SIGKILL

# Runs the real CLI with os.fsync made slow: the signal then arrives while a temporary file is in the folder.
SLOW_WRITER = """
import os, sys, time
from pathlib import Path
marker = Path(sys.argv.pop(1))
real_fsync = os.fsync
def slow_fsync(fd):
    marker.write_text("writing")
    time.sleep(120)
    real_fsync(fd)
os.fsync = slow_fsync
sys.argv[0] = "restore"
from restore_cli.cli import main
main()
"""


def _start_slow_run(tmp_path: Path, weights: Path) -> tuple[subprocess.Popen, Path, Path, list[str]]:
    inputs, out, marker = tmp_path / "in", tmp_path / "out", tmp_path / "writing"
    for i in range(3):
        write_photo(inputs / f"p{i}.png", seed=i)
    args = ["deblur", str(inputs), "-o", str(out), "-w", str(weights), "--device", "cpu", "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(marker), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), proc.communicate(timeout=30)
    assert temps(out), "the signal must arrive while a temporary file exists"
    return proc, out, inputs, args


@pytest.mark.slow  # one real process (torch import): a few seconds
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_termination_signal_during_a_write_is_handled_like_ctrl_c(
    tmp_path: Path, tiny_deblur_weights: Path, signum: int, code: int
) -> None:
    proc, out, _, _ = _start_slow_run(tmp_path, tiny_deblur_weights)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "interrupted" in err and "Traceback" not in err and "please report" not in err
    assert "0 written" in err
    assert list(out.iterdir()) == []  # no temporary file, no partial output


@pytest.mark.slow
def test_sigkill_leftover_is_removed_by_the_next_run_but_a_live_writers_file_is_not(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path
) -> None:
    proc, out, inputs, args = _start_slow_run(tmp_path, tiny_deblur_weights)
    proc.kill()
    proc.communicate(timeout=60)
    (leftover,) = temps(out)
    old = time.time() - 60
    os.utime(out / leftover, (old, old))
    foreign = out / ".p0_deblurred.png.12345678.tmp"  # another tool's pattern: never ours to delete
    foreign.write_bytes(b"x")
    os.utime(foreign, (old, old))

    result = invoke(cli_runner, *args[:-1])  # same run, in process, without the slow writer
    assert result.exit_code == 0, stderr_of(result)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"p{i}_deblurred.png" for i in range(3)] + [foreign.name]
    )


def test_sweep_keeps_locked_young_and_foreign_temp_files(tmp_path: Path) -> None:
    import fcntl

    names = {
        "stale": ".a.png.restore-abcd1234.tmp",
        "locked": ".b.png.restore-abcd1234.tmp",
        "young": ".c.png.restore-abcd1234.tmp",
        "foreign": ".d.png.abcd1234.tmp",
        "visible": "e.png.restore-abcd1234.tmp",
    }
    for key, name in names.items():
        (tmp_path / name).write_bytes(b"x")
        if key != "young":
            old = time.time() - 60
            os.utime(tmp_path / name, (old, old))
    with open(tmp_path / names["locked"], "rb+") as held:  # a concurrent run in the middle of its write
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        removed = fsutil.remove_stale_temps(tmp_path)
    assert [p.name for p in removed] == [names["stale"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(v for k, v in names.items() if k != "stale")


# -------------------------------------------------------------------------------- 4. unreadable folders


def test_unreadable_subfolder_is_a_failed_item(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = tmp_path / "in"
    write_photo(inputs / "good.png")
    write_photo(inputs / "locked" / "hidden.png")
    locked = str(inputs / "locked")
    real_scandir = os.scandir

    def scandir(path=".", *rest):
        if os.fspath(path) == locked:
            raise PermissionError(errno.EACCES, "Permission denied", locked)
        return real_scandir(path, *rest)

    monkeypatch.setattr(os, "scandir", scandir)  # os.walk lists folders through os.scandir
    result = invoke(cli_runner, "deblur", inputs, "-r", "-o", tmp_path / "out", "-w", tiny_deblur_weights)
    assert result.exit_code == 1
    one_error(result, locked, "Permission denied")
    assert "1 written, 0 skipped, 1 failed" in stderr_of(result)
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["good_deblurred.png"]


@pytest.mark.skipif(IS_ROOT, reason="root can read any folder, so the permission cannot be taken away")
def test_unreadable_subfolder_for_real(cli_runner, tmp_path: Path, tiny_deblur_weights: Path) -> None:
    inputs = tmp_path / "in"
    write_photo(inputs / "good.png")
    write_photo(inputs / "locked" / "hidden.png")
    (inputs / "locked").chmod(0)
    try:
        result = invoke(cli_runner, "deblur", inputs, "-r", "-o", tmp_path / "out", "-w", tiny_deblur_weights)
    finally:
        (inputs / "locked").chmod(0o700)
    assert result.exit_code == 1
    one_error(result, "locked")


# -------------------------------------------------------------------------------- 5. long output names


def test_output_names_up_to_name_max_are_written(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path
) -> None:
    src = write_photo(tmp_path / "p.png")
    name_max = os.pathconf(tmp_path, "PC_NAME_MAX")
    for stem in ("a" * (name_max - 4), "é" * ((name_max - 4) // 2)):  # 255 bytes with ".png" (or 253)
        out = tmp_path / "out" / f"{stem}.png"
        result = invoke(cli_runner, "deblur", src, "-o", out, "-w", tiny_deblur_weights)
        assert result.exit_code == 0, stderr_of(result)
        assert out.is_file()
    assert temps(tmp_path) == []


def test_temp_prefix_fits_and_stays_recognisable() -> None:
    for name in ("short.png", "x" * 255, "写" * 85):
        prefix = fsutil.temp_prefix(name, 255)
        temp = f"{prefix}abcd1234.tmp"
        assert len(os.fsencode(temp)) <= 255 and fsutil.TEMP_PATTERN.match(temp)
    assert fsutil.temp_prefix("short.png") == ".short.png.restore-"
    assert fsutil.temp_prefix("x" * 255) != fsutil.temp_prefix("x" * 254 + "y")  # the hash keeps them apart


# ------------------------------------------------------------------------------ 6. symlink loop as output


def test_output_name_taken_by_a_symlink_loop_fails_that_image_only(
    cli_runner, tmp_path: Path, tiny_deblur_weights: Path
) -> None:
    write_photo(tmp_path / "a.png")
    write_photo(tmp_path / "b.png", seed=1)
    loop = tmp_path / "a_deblurred.png"
    os.symlink(loop.name, loop)  # points at itself
    result = invoke(cli_runner, "deblur", tmp_path / "a.png", tmp_path / "b.png", "-w", tiny_deblur_weights)
    assert result.exit_code == 1
    one_error(result, "a_deblurred.png")
    assert (tmp_path / "b_deblurred.png").is_file() and loop.is_symlink()


# ---------------------------------------------------------------------- 7. read-only RESTORE_HOME on import


def _import_fails_naming_the_folder(cli_runner, tmp_path: Path) -> str:
    ckpt = nafnet_checkpoint(tmp_path / "up.pth")
    result = invoke(cli_runner, "weights", "import", ckpt, "--name", "mine")
    assert result.exit_code == 1
    return one_error(result, str(W.user_weights_dir()), "RESTORE_HOME")


def test_restore_home_under_a_file(cli_runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where RESTORE_HOME's parent should be")  # a real OS error, even for root
    monkeypatch.setenv("RESTORE_HOME", str(blocker / "home"))
    _import_fails_naming_the_folder(cli_runner, tmp_path)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.ENOSPC])
def test_read_only_restore_home(
    cli_runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    def refuse(path, data, **kwargs):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(W, "atomic_write", refuse)
    line = _import_fails_naming_the_folder(cli_runner, tmp_path)
    assert os.strerror(code) in line


@pytest.mark.skipif(IS_ROOT, reason="root writes into read-only folders, so the permission cannot be removed")
def test_read_only_restore_home_for_real(cli_runner, tmp_path: Path, restore_home: Path) -> None:
    restore_home.chmod(0o500)
    try:
        _import_fails_naming_the_folder(cli_runner, tmp_path)
    finally:
        restore_home.chmod(0o700)


# ------------------------------------------------------------------------------ 8-9. manifest schema


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"weights": [{"name": "x", "file": "x.safetensors", "sha256": "0" * 64, "size_bytes": "big"}]},
            "weights[0].size_bytes",
        ),
        ({"defaults": ["x"]}, "defaults"),
        ({"defaults": {"deblur": 3}}, "defaults.deblur"),
        (
            {
                "weights": [
                    {"name": "x", "file": "x.safetensors", "sha256": "0" * 64, "default_for": "deblur"}
                ]
            },
            "weights[0].default_for",
        ),
        ({"weights": [{"name": 7, "file": "x.safetensors", "sha256": "0" * 64}]}, "weights[0].name"),
    ],
)
def test_malformed_user_manifest_names_the_field(
    cli_runner, no_shipped_weights: Path, change: dict, field: str
) -> None:
    folder = W.user_weights_dir()
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"version": 1, "weights": [], **change}))
    for args in (["weights", "list"], ["weights", "set-default", "x"]):
        result = invoke(cli_runner, *args)
        assert result.exit_code == 1
        one_error(result, "manifest.json", field)


def test_shipped_manifest_passes_the_schema() -> None:
    assert len(W._entries(W.shipped_weights_dir(), "shipped")) >= 1


# ------------------------------------------------------------------------------- 11-13. train --config


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('patch = "big"', "patch"),
        ('lr = "fast"', "lr"),
        ("noise = 1", "noise"),
        ("iters = 1.5", "iters"),
        ("betas = [0.9, true]", "betas"),
        ("hyper = 3", "hyper"),
        ("val = 3", "val"),
    ],
)
@pytest.mark.parametrize("command", ["deblur", "colorize"])
def test_config_values_are_type_checked(
    cli_runner, tmp_path: Path, text: str, key: str, command: str
) -> None:
    config = tmp_path / "run.toml"
    config.write_text(text + "\n")
    result = invoke(cli_runner, "train", command, "--config", config, "--data", tmp_path, "--iters", "1")
    assert result.exit_code == 2
    one_error(result, "run.toml", repr(key))


def test_config_folder_is_a_usage_error(cli_runner, tmp_path: Path) -> None:
    result = invoke(cli_runner, "train", "deblur", "--config", tmp_path, "--data", tmp_path, "--iters", "1")
    assert result.exit_code == 2
    one_error(result, str(tmp_path), "folder")


def test_well_typed_config_still_loads(tmp_path: Path) -> None:
    from restore_cli.train.config import build_config

    config = tmp_path / "ok.toml"
    config.write_text('lr = 1\nbetas = [0, 0.99]\ntime-limit = "90m"\nnoise = false\nhyper = {width = 8}\n')
    cfg = build_config(config, data="d")
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float) and cfg.betas == [0.0, 0.99]
    assert cfg.time_limit_s() == 5400 and cfg.noise is False and cfg.hyper == {"width": 8}
    config.write_text("time_limit = 60\n")
    assert build_config(config, data="d").time_limit_s() == 60


# ------------------------------------------------------------------------------------------ 14. -o ''


def test_empty_output_is_a_usage_error(
    cli_runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_deblur_weights: Path
) -> None:
    src = write_photo(tmp_path / "in" / "p.png")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    for empty in ("", "  "):
        result = invoke(cli_runner, "deblur", src, "-o", empty, "-w", tiny_deblur_weights)
        assert result.exit_code == 2
        one_error(result, "-o")
    assert list(work.iterdir()) == [] and sorted(p.name for p in src.parent.iterdir()) == ["p.png"]
    with pytest.raises(UsageError):
        batch.plan_outputs(batch.expand_inputs([src]), output="")


# ---------------------------------------------------------------- 3 (training): SIGTERM saves like Ctrl-C


def test_training_stop_flag_takes_sigterm_and_sighup_and_restores_handlers() -> None:
    from restore_cli.train.trainer import _StopFlag

    for signum in (signal.SIGTERM, signal.SIGHUP):
        before = signal.getsignal(signum)
        with _StopFlag() as flag:
            os.kill(os.getpid(), signum)
            deadline = time.monotonic() + 10
            while not flag.stop and time.monotonic() < deadline:
                time.sleep(0.01)
            assert flag.stop
        assert signal.getsignal(signum) is before


@pytest.mark.slow  # one real training process (torch import, a few tiny iterations)
def test_sigterm_during_training_saves_the_checkpoint_and_weights(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    for i in range(2):
        write_photo(photos / f"{i}.png", (48, 48), seed=i)
    out, log = tmp_path / "w.safetensors", tmp_path / "run.log.jsonl"
    hyper = json.dumps(TINY_NAFNET)
    args = ["train", "deblur", "--data", str(photos), "--time-limit", "600", "--patch", "16", "--batch", "2"]
    args += ["--hyper", hyper, "--workers", "0", "--out", str(out), "--log", str(log), "--log-every", "1"]
    args += ["--checkpoint-every", "0", "--quiet", "--device", "cpu"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "restore_cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if log.exists() and '"event": "train"' in log.read_text():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["stopped_by"] == "interrupt" and summary["iteration"] >= 1
    assert out.is_file() and Path(summary["checkpoint"]).is_file()
    assert temps(tmp_path) == []


def test_val_folder_that_is_a_symlink_loop_does_not_crash_the_config(tmp_path: Path) -> None:
    from restore_cli.train.config import TrainConfig

    loop = tmp_path / "val"
    os.symlink(loop.name, loop)
    assert TrainConfig(data="d", val=str(loop)).kernels_dir() == tmp_path / "kernels"


def test_a_dangling_manifest_link_is_an_error_not_an_empty_folder(restore_home: Path) -> None:
    from restore_cli import weights
    from restore_cli.errors import BadWeightsError

    folder = weights.user_weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").symlink_to(folder / "gone.json")
    with pytest.raises(BadWeightsError, match="manifest"):
        weights.list_weights()


def _run_into_a_closed_stdout(args: list[str], weights: Path) -> subprocess.CompletedProcess:
    """``restore deblur ARGS`` with standard output a pipe whose reader is gone before the first write."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "restore_cli", "deblur", *args, "-w", str(weights), "--device", "cpu"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(write_end)


def test_a_closed_standard_output_stops_quietly_with_141(tmp_path: Path, tiny_deblur_weights: Path) -> None:
    """`restore deblur DIR --json | head -1`: when the reader goes away the run stops as `ls` would, with no
    error line or traceback, and what was written stays complete."""
    for i in range(3):
        write_photo(tmp_path / "in" / f"{i}.png", (24, 24), seed=i)
    args = [str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--json"]
    done = _run_into_a_closed_stdout(args, tiny_deblur_weights)
    assert done.returncode == 141, done.stderr
    assert "error" not in done.stderr.lower() and "Traceback" not in done.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["0_deblurred.png"]  # the record is printed after its image is written


def test_a_closed_standard_output_for_the_image_stops_quietly_with_141(
    tmp_path: Path, tiny_deblur_weights: Path
) -> None:
    """`restore deblur x.png -o - | head -c 8`: the image's reader went away; not an "unexpected" failure."""
    photo = write_photo(tmp_path / "x.png", (24, 24))
    done = _run_into_a_closed_stdout([str(photo), "-o", "-"], tiny_deblur_weights)
    assert done.returncode == 141, done.stderr
    assert "error" not in done.stderr.lower() and "Traceback" not in done.stderr
