"""Command-line flags that set run-config fields: one flag per field, shared by every command.

Flags are parsed as plain strings and handed to `tfcolor.config.resolve`, which types and checks
them, so `--epochs 0` is refused with the same message as `"epochs": 0` in a `--config` file or
`resolve({"epochs": 0})` in Python. Commands pick the flags they take from one table (`add_config_flags`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from tfcolor.config import DEFAULT_MAX_PIXELS, NETWORK_PRESETS, RunConfig, preset_for, resolve, rules
from tfcolor.config.run_layout import CONFIG_FILE, load_config

_BOOL = "BOOL"


def _choices(names) -> str:
    return "{" + ",".join(names) + "}"


# flag -> (help, metavar). The destination is the config field of the same name (`--lr-decay-steps`
# -> `lr_decay_steps`); `network`, `base_filters` and `depth` choose a whole network table.
CONFIG_FLAGS: dict[str, tuple[str, str | None]] = {
    "--dataset": ("dataset to train on; `demo` is the embedded default; `tfrecord`: shards written by "
                  "python -m tfcolor.shards", _choices(rules.DATASETS)),
    "--dataset-path": ("where the dataset lives (not needed for demo)", "PATH"),
    "--name": ("experiment name (default: the dataset's)", None),
    "--model": ("`gan` (the paper) or `unet` (L1-only baseline)", _choices(rules.MODELS)),
    "--network": ("network tables: the original cifar10 (32x32), places365 (256x256) or the narrower demo U-Net",
                  _choices(NETWORK_PRESETS)),
    "--base-filters": ("general U-Net: filters of the first unit (with --depth)", "N"),
    "--depth": ("general U-Net: number of stride-2 units (with --base-filters)", "N"),
    "--image-size": ("training patch size; a multiple of 2**depth", "PIXELS"),
    "--color-space": ("what the network predicts", _choices(rules.COLOR_SPACES)),
    "--seed": ("random seed (data order, augmentation, initial weights)", "N"),
    "--batch-size": ("images per batch: the global batch, split evenly over the replicas of --strategy", "N"),
    "--epochs": ("epochs to train (an epoch is one pass over the training images)", "N"),
    "--max-steps": ("stop after this many batches in total (quick runs, tests)", "N"),
    "--lr": ("generator learning rate; the discriminator's is a tenth", "RATE"),
    "--lr-decay": ("decay the learning rates exponentially (floor 1e-6)", _BOOL),
    "--lr-decay-rate": ("decay factor per --lr-decay-steps batches", "RATE"),
    "--lr-decay-steps": ("batches over which the rate decays by --lr-decay-rate", "N"),
    "--beta1": ("Adam's beta1", "BETA"),
    "--l1-weight": ("weight of the L1 term in the generator loss", "WEIGHT"),
    "--augment": ("random horizontal flips", _BOOL),
    "--label-smoothing": ("one-sided label smoothing (real label 0.9)", _BOOL),
    "--max-pixels": ("skip photos with more pixels than this, before decoding them", "N"),
    "--cache": ("decode the training photos once, into memory, at the size their crops need", _BOOL),
    "--demo-patches": ("training patches cut from the embedded photos per epoch", "N"),
    "--crop-scale": ("training crops: side as a fraction of each photo's shorter side, drawn per image from "
                     "MIN,MAX and scaled to --image-size (default: the dataset's; 1,1 is the original's whole "
                     "square)", "MIN,MAX"),
    "--acc-thresh": ("pixel accuracy threshold (L within t, a and b within 2.2 t)", "T"),
    "--ema-decay": ("keep an exponential moving average of the generator's weights with this decay and use "
                    "it to validate, sample, colorize and export (0: off)", "DECAY"),
    "--jit-compile": ("XLA: auto = on with a GPU, off on CPU (measured slower there)",
                      _choices(rules.JIT_SETTINGS)),
    "--precision": ("float32 or Keras mixed precision; auto = mixed_float16 on GPUs that gain from it, "
                    "else float32", _choices(rules.PRECISIONS)),
    "--strategy": ("tf.distribute strategy; auto = multi-worker when TF_CONFIG names a cluster, mirrored "
                   "over all GPUs when there are several, else one device", _choices(rules.STRATEGIES)),
    "--save": ("save checkpoints", _BOOL),
    "--save-interval": ("save a checkpoint every N batches", "N"),
    "--sample": ("save sample grids (gray | original | colorized)", _BOOL),
    "--sample-size": ("images in a sample grid", "N"),
    "--sample-interval": ("write a sample grid every N batches", "N"),
    "--validate": ("validate at the end of epochs", _BOOL),
    "--validate-interval": ("validate every N epochs", "N"),
    "--log": ("also write per-epoch metrics to <run>/log.csv", _BOOL),
    "--log-interval": ("write batch scalars to TensorBoard every N batches", "N"),
}


def add_config_flags(parser: argparse.ArgumentParser, flags: tuple[str, ...] = tuple(CONFIG_FLAGS),
                     overrides: dict[str, str] | None = None) -> None:
    """Add `flags` (default: all) to `parser`; `overrides` maps a flag to a help text of this command's."""
    for flag in flags:
        help_text, metavar = CONFIG_FLAGS[flag]
        help_text = (overrides or {}).get(flag, help_text)
        if metavar == _BOOL:  # the original's boolean form: `--augment`, `--augment 1`, `--augment false`
            parser.add_argument(flag, nargs="?", const="true", metavar=_BOOL, help=help_text)
        else:
            parser.add_argument(flag, metavar=metavar, help=help_text)


def positive_int(value: str) -> int:
    """argparse type for the counts and sizes that are not config fields (those `resolve` checks)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return number


def add_skip_flags(parser: argparse.ArgumentParser) -> None:
    """`--max-pixels` and `--strict`, for the tools that read folders of photos and skip the bad ones."""
    parser.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS,
                        help=f"skip photos with more pixels than this, before decoding them (default {DEFAULT_MAX_PIXELS})")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any file was skipped (default: report and go on)")


def add_run_flag(parser: argparse.ArgumentParser, help_text: str, **kwargs) -> None:
    """The run directory: `--checkpoints-path` (the original's name) with `--run` as its alias, in every command."""
    parser.add_argument("--checkpoints-path", "--run", dest="checkpoints_path", metavar="RUN", help=help_text, **kwargs)


def config_overrides(args: argparse.Namespace) -> dict[str, str]:
    """The config flags given on the command line, as `{field: string}`."""
    names = {flag.lstrip("-").replace("-", "_") for flag in CONFIG_FLAGS}
    return {key: value for key, value in vars(args).items() if key in names and value is not None}


def resolve_run(args: argparse.Namespace) -> tuple[RunConfig, Path]:
    """The run's config and directory: `--config FILE`, else the config saved in the run directory
    when resuming, else the dataset's preset; the flags given override whichever it is.

    Raises:
        ConfigError: a flag or the file holds an invalid value.
    """
    overrides = config_overrides(args)
    if args.config:
        config = resolve(overrides, base=RunConfig.load(args.config))
        return config, Path(args.checkpoints_path or Path("checkpoints") / config.train.name)
    name = overrides.get("name") or preset_for(overrides.get("dataset")).train.name
    run_dir = Path(args.checkpoints_path or Path("checkpoints") / name)
    saved = load_config(run_dir) if (run_dir / CONFIG_FILE).is_file() else None
    return resolve(overrides, base=saved), run_dir
