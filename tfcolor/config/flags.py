"""Command-line flags that set run-config fields: one flag per field, shared by every command.

Flags are parsed as plain strings and handed to `tfcolor.config.resolve`, which types and checks
them, so `--epochs 0` is refused with the same message as `"epochs": 0` in a `--config` file or
`resolve({"epochs": 0})` in Python. Commands pick the flags they take from one table (`add_config_flags`).
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from tfcolor.config.overrides import resolve
from tfcolor.config.presets import preset_for
from tfcolor.config.rules import BOOL_METAVAR, DEFAULT_MAX_PIXELS, field_flag, is_positive_int
from tfcolor.config.run_layout import CONFIG_FILE, load_config
from tfcolor.config.schema import SECTIONS, RunConfig

_SHORTCUTS: dict[str, tuple[str, str | None]] = {
    "--base-filters": ("general U-Net: filters of the first unit (with --depth)", "N"),
    "--depth": ("general U-Net: number of stride-2 units (with --base-filters)", "N"),
}


def _config_flags() -> dict[str, tuple[str, str | None]]:
    """flag -> (help, metavar) for every field that has a flag, from the schema, plus the network shortcuts.
    A flag's destination is the field of its name (`--lr-decay-steps` -> `lr_decay_steps`); `--network`,
    `--base-filters` and `--depth` choose a whole network table."""
    found = {}
    for section in SECTIONS.values():
        for field in dataclasses.fields(section):
            flag = field_flag(field.name, field)
            if flag:
                found[flag] = (field.metadata["help"], field.metadata["metavar"])
    return {**found, **_SHORTCUTS}


CONFIG_FLAGS = _config_flags()


def add_config_flags(parser: argparse.ArgumentParser, flags: tuple[str, ...] = tuple(CONFIG_FLAGS),
                     overrides: dict[str, str] | None = None) -> None:
    """Add `flags` (default: all) to `parser`; `overrides` maps a flag to a help text of this command's."""
    for flag in flags:
        help_text, metavar = CONFIG_FLAGS[flag]
        help_text = (overrides or {}).get(flag, help_text)
        if metavar == BOOL_METAVAR:  # the original's boolean form: `--augment`, `--augment 1`, `--augment false`
            parser.add_argument(flag, nargs="?", const="true", metavar=BOOL_METAVAR, help=help_text)
        else:
            parser.add_argument(flag, metavar=metavar, help=help_text)


def positive_int(value: str) -> int:
    """argparse type for the counts and sizes that are not config fields (those `resolve` checks)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if not is_positive_int(number):
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return number


def add_max_pixels_flag(parser: argparse.ArgumentParser, help_text: str | None = None) -> None:
    """`--max-pixels` for the commands that take it as a number (training takes it as a config field, the
    same help): colorize, evaluate, shards, and export (`help_text`: there it limits requests)."""
    default_help, metavar = CONFIG_FLAGS["--max-pixels"]
    parser.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, metavar=metavar,
                        help=f"{help_text or default_help} (default {DEFAULT_MAX_PIXELS})")


def add_skip_flags(parser: argparse.ArgumentParser) -> None:
    """`--max-pixels` and `--strict`, for the tools that read folders of photos and skip the bad ones."""
    add_max_pixels_flag(parser)
    parser.add_argument("--strict", action="store_true", help="exit 1 when any file was skipped (default: report and go on)")


def add_upsample_flag(parser: argparse.ArgumentParser, methods: tuple[str, ...], default: str,
                      help_text: str = "how a*b*, predicted at the model's size, reach the photo's") -> None:
    """`--upsample`, one definition for colorize, evaluate (with --full-resolution) and export: `methods` and
    `default` are `tfcolor.models.upsampling`'s, which this package, below the models, cannot import."""
    parser.add_argument("--upsample", choices=methods, default=default,
                        help=f"{help_text}: bilinear resizing, or guided by the photo's full-resolution lightness so "
                             f"colour stops at its edges (default {default})")


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
