"""Every `restore train deblur|colorize` option reaches the right `TrainConfig` field (no training runs).

The option tables below were captured from the commands before their options were generated from the
`TrainConfig` fields; every name and short form listed must keep working, with the same meaning.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import invoke, stderr_of

# option (or option + value) -> (field, value in the config); the value None: field keeps its default.
COMMON = {
    ("--val", "v"): ("val", "v"),
    ("--val-size", "64"): ("val_size", 64),
    ("--val-limit", "3"): ("val_limit", 3),
    ("--val-every", "7"): ("val_every", 7),
    ("--patch", "32"): ("patch", 32),
    ("--batch", "2"): ("batch", 2),
    ("--time-limit", "90m"): ("time_limit", "90m"),
    ("--fit-schedule", "8m"): ("fit_schedule", "8m"),
    ("--lr", "0.01"): ("lr", 0.01),
    ("--min-lr", "1e-5"): ("min_lr", 1e-5),
    ("--weight-decay", "0.1"): ("weight_decay", 0.1),
    ("--warmup", "3"): ("warmup", 3),
    ("--schedule", "step"): ("schedule", "step"),
    ("--grad-clip", "0.5"): ("grad_clip", 0.5),
    ("--ema", "0.5"): ("ema", 0.5),
    ("--out", "o.safetensors"): ("out", "o.safetensors"),
    ("--export-best",): ("export_best", True),
    ("--export-last",): ("export_best", False),
    ("--checkpoint", "c.pt"): ("checkpoint", "c.pt"),
    ("--checkpoint-every", "9"): ("checkpoint_every", 9),
    ("--resume", "r.pt"): ("resume", "r.pt"),
    ("--init", "i.safetensors"): ("init", "i.safetensors"),
    ("--log", "l.jsonl"): ("log", "l.jsonl"),
    ("--log-every", "2"): ("log_every", 2),
    ("--threads", "2"): ("threads", 2),
    ("--workers", "0"): ("workers", 0),
    ("--seed", "4"): ("seed", 4),
    ("--gan", "wgan-gp"): ("gan", "wgan-gp"),
    ("--n-critic", "2"): ("n_critic", 2),
    ("--gp-weight", "5"): ("gp_weight", 5.0),
    ("--adv-weight", "0.5"): ("adv_weight", 0.5),
    ("--label-noise", "0.2"): ("label_noise", 0.2),
    ("--amp", "bf16"): ("amp", "bf16"),
    ("--device", "cpu"): ("device", "cpu"),
}
DEBLUR = {
    **COMMON,
    ("--data", "d"): ("data", "d"),
    ("--iters", "5"): ("iters", 5),
    ("--val-kernels", "k"): ("val_kernels", "k"),
    ("--arch", "msdeblur"): ("arch", "msdeblur"),
    ("--hyper", '{"width": 4}'): ("hyper", {"width": 4}),
    ("--width", "8"): ("hyper", {"width": 8}),
    ("--enc-blocks", "1, 2"): ("hyper", {"enc_blocks": [1, 2]}),
    ("--middle-blocks", "2"): ("hyper", {"middle_blocks": 2}),
    ("--dec-blocks", "1,1"): ("hyper", {"dec_blocks": [1, 1]}),
    ("--synth", "motion"): ("synth", "motion"),
    ("--kernel-size", "15"): ("kernel_size", 15),
    ("--noise",): ("noise", True),
    ("--no-noise",): ("noise", False),
    ("--jpeg",): ("jpeg", True),
    ("--no-jpeg",): ("jpeg", False),
    ("--synth-device", "worker"): ("synth_device", "worker"),
    ("--saturate", "0.5"): ("saturate", 0.5),
    ("--sensor-noise",): ("sensor_noise", True),
    ("--srgb-noise",): ("sensor_noise", False),
    ("--random-crf",): ("random_crf", True),
    ("--fixed-crf",): ("random_crf", False),
    ("--rotation-copies", "3"): ("rotation_copies", 3),
    ("--compile",): ("compile", True),
    ("--no-compile",): ("compile", False),
    ("--loss", "l1"): ("loss", "l1"),
    ("--content", "charbonnier"): ("loss", "charbonnier"),
    ("--gray",): ("gray", True),
    ("--rgb",): ("gray", False),
    ("--laplacian",): ("laplacian", True),
    ("--channels-last",): ("channels_last", True),
    ("--no-channels-last",): ("channels_last", False),
    ("--perceptual-weights", "vgg.safetensors"): ("perceptual_weights", "vgg.safetensors"),
    ("--perceptual-layer", "conv4_4"): ("perceptual_layer", "conv4_4"),
    ("--lambda-content", "3"): ("lambda_content", 3.0),
    ("--critic-lr", "0.001"): ("critic_lr", 0.001),
}
COLORIZE = {
    **COMMON,
    ("--data", "d"): ("data", "d"),
    ("--iters", "5"): ("iters", 5),
    ("--arch", "eccv16"): ("arch", "eccv16"),
    ("--hyper", '{"head": "bins"}'): ("hyper", {"head": "bins"}),
    ("--lambda-l1", "50"): ("lambda_l1", 50.0),
    ("--rebalance", "0.7"): ("rebalance", 0.7),
    ("--prior", "p.npy"): ("prior", "p.npy"),
}
# The option names each command had before (captured from its --help), besides --config, --quiet, --help/-h.
NAMES = {
    "deblur": {name for args in DEBLUR for name in args if name.startswith("--")},
    "colorize": {name for args in COLORIZE for name in args if name.startswith("--")},
}
TABLES = {"deblur": DEBLUR, "colorize": COLORIZE}


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list:
    """Stop `restore train` where the config is built: record (config, quiet) instead of training."""
    import restore_cli.cli.train as train_cli

    runs: list = []
    monkeypatch.setattr(train_cli, "_run", lambda cfg, quiet: runs.append((cfg, quiet)))
    return runs


def _base(args: tuple[str, ...]) -> list[str]:
    """--data and --iters so the config passes its checks, unless the option under test is one of them."""
    extra = []
    if args[0] != "--data":
        extra += ["--data", "photos"]
    if args[0] != "--iters":
        extra += ["--iters", "1"]
    return extra


@pytest.mark.parametrize(
    ("command", "args"), [(command, args) for command, table in TABLES.items() for args in table]
)
def test_every_option_reaches_its_config_field(cli_runner, captured: list, command: str, args) -> None:
    field, value = TABLES[command][args]
    result = invoke(cli_runner, "train", command, *args, *_base(args))
    assert result.exit_code == 0, stderr_of(result)
    ((cfg, quiet),) = captured
    assert getattr(cfg, field) == value and type(getattr(cfg, field)) is type(value)
    assert cfg.task == command and quiet is False


@pytest.mark.parametrize("command", ["deblur", "colorize"])
def test_help_lists_every_option_name(cli_runner, command: str) -> None:
    for flag in ("--help", "-h"):
        result = invoke(cli_runner, "train", command, flag)
        assert result.exit_code == 0
        words = set(result.stdout.replace(",", " ").split())
        assert NAMES[command] | {"--config", "--quiet", "--help", "-h"} <= words


def test_colorize_data_repeats(cli_runner, captured: list) -> None:
    invoke(cli_runner, "train", "colorize", "--data", "a", "--data", "b", "--iters", "1", "--quiet")
    ((cfg, quiet),) = captured
    assert cfg.data == ["a", "b"] and quiet is True


@pytest.mark.parametrize("command", ["deblur", "colorize"])
def test_options_override_the_config_file_which_overrides_defaults(
    cli_runner, captured: list, tmp_path: Path, command: str
) -> None:
    config = tmp_path / "run.toml"
    config.write_text('data = "toml"\niters = 3\nseed = 9\nwarmup = 7\nhyper = {a = 1, b = 2}\n')
    result = invoke(cli_runner, "train", command, "--config", config, "--iters", "4", "--hyper", '{"b": 3}')
    assert result.exit_code == 0, stderr_of(result)
    ((cfg, _),) = captured
    assert (cfg.data, cfg.iters, cfg.seed, cfg.warmup) == ("toml", 4, 9, 7)
    assert cfg.hyper == {"a": 1, "b": 3}  # merged key by key, the option winning
    # untouched by both: the task's default (colorization has its own for some fields)
    assert (cfg.arch, cfg.lr) == (("nafnet", 1e-3) if command == "deblur" else ("unet", 2e-4))


def test_hyper_shortcuts_merge_into_hyper(cli_runner, captured: list) -> None:
    result = invoke(
        cli_runner, "train", "deblur", "--data", "d", "--iters", "1", "--hyper", '{"width": 4, "x": 1}',
        "--width", "16", "--enc-blocks", "1,1,1,8",
    )  # fmt: skip
    assert result.exit_code == 0, stderr_of(result)
    assert captured[0][0].hyper == {"width": 16, "x": 1, "enc_blocks": [1, 1, 1, 8]}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--hyper", "{nope"], "--hyper"),
        (["--hyper", "[1]"], "--hyper"),
        (["--enc-blocks", "1,x"], "--enc-blocks"),
        (["--lr", "fast"], "--lr"),
    ],
)
def test_bad_option_values_are_usage_errors(cli_runner, captured: list, args: list[str], words: str) -> None:
    result = invoke(cli_runner, "train", "deblur", "--data", "d", "--iters", "1", *args)
    assert result.exit_code == 2 and captured == []
    assert words in stderr_of(result)


def test_deblur_refuses_two_data_folders(cli_runner, captured: list) -> None:
    result = invoke(cli_runner, "train", "deblur", "--data", "a", "--data", "b", "--iters", "1")
    assert result.exit_code == 2 and captured == []
    assert "one --data folder" in stderr_of(result)


def test_new_fields_become_options_and_toml_only_fields_do_not(cli_runner) -> None:
    from dataclasses import fields

    from restore_cli.train.config import TrainConfig

    for command in ("deblur", "colorize"):
        words = set(invoke(cli_runner, "train", command, "--help").stdout.replace(",", " ").split())
        for spec in fields(TrainConfig):
            cli = spec.metadata.get("cli")
            flag = "--" + spec.name.replace("_", "-")
            if cli is not None and command in cli.tasks and not cli.names:
                assert flag in words, (command, flag)
            if cli is None:
                assert flag not in words, (command, flag)
