"""The building blocks of the config schema: choices, value tests, `setting` (a field with its rule and
help) and the one error type and message shape. Below the schema, so coercion and the schema share them.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

STRATEGIES = ("auto", "default", "mirrored", "multi-worker")
DATASETS = ("demo", "cifar10", "places365", "folder", "tfrecord")
MODELS = ("gan", "unet")
COLOR_SPACES = ("lab", "rgb")
JIT_SETTINGS = ("auto", "on", "off")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
# The network tables of `tfcolor.config.presets`, and `custom` for the general U-Net of --base-filters/--depth.
NETWORK_TABLES = ("cifar10", "places365", "demo")
CUSTOM_NETWORK = "custom"
# The networks a warm start (`--init-from`) may take from another run's checkpoint, as the checkpoint names them.
WARM_START_PARTS = ("generator", "ema_generator", "confidence", "discriminator")
# Photos with more pixels are skipped before decoding (a 20000x20000 PNG is 1.2 MB on disk, 4.8 GB
# decoded). The one default of training data, colorize, evaluate, shards and the exported signatures.
DEFAULT_MAX_PIXELS = 50_000_000
BOOL_METAVAR = "BOOL"


class ConfigError(ValueError):
    """A configuration value is unknown or invalid; the message names the field and what is allowed."""



def is_positive_int(value: Any) -> bool:
    """An int above 0 (not a bool): the one test behind every count and size the project checks."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _non_negative_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def number_in(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Callable[[Any], bool]:
    def inside(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        return above and below
    return inside


def one_of(options: tuple[str, ...]) -> tuple[Callable[[Any], bool], str]:
    return (lambda value: value in options), "one of " + ", ".join(options)


POSITIVE = (is_positive_int, "a positive integer")
NON_NEGATIVE = (_non_negative_int, "a non-negative integer (0: never)")
FRACTION_PAIR = (lambda v: v is None or (len(v) == 2 and all(map(number_in(0.0, 1.0, low_open=True), v)) and v[0] <= v[1]),
                 "two fractions MIN,MAX with 0 < MIN <= MAX <= 1")


def setting(default: Any, rule: tuple[Callable[[Any], bool], str] | None = None, help: str | None = None,
            metavar: str | None = None, flag: str | None = None) -> Any:
    """A config field: its default, its rule `(test, what it expects)`, and its flag's help and metavar.

    A field without `help` has no flag (a network table: a JSON config or code sets it). `flag`
    names a flag whose name is not the field's (`--network` sets `model.network_preset`).
    """
    test, expected = rule or (None, None)
    return dataclasses.field(default=default, metadata={"test": test, "expected": expected, "help": help,
                                                        "metavar": metavar, "flag": flag})


def choices(names: tuple[str, ...]) -> str:
    """`{a,b,c}`: how a flag's help shows its choices."""
    return "{" + ",".join(names) + "}"


def field_flag(name: str, field: dataclasses.Field | None) -> str | None:
    """The flag that sets a field (`batch_size` -> `--batch-size`), None for fields no flag sets; a name with
    no field is a shortcut (`network`, `base_filters`, `depth`), whose flag is its own name."""
    if field is None:
        return "--" + name.replace("_", "-")
    if field.metadata.get("help") is None:
        return None
    return field.metadata.get("flag") or "--" + name.replace("_", "-")


def invalid(path: str, expected: str, value: Any, field: dataclasses.Field | None = None) -> ConfigError:
    """The one message shape for a bad value: `section.field (--flag): expected ..., got ...`."""
    flag = field_flag(path.rpartition(".")[2], field)
    label = f"{path} ({flag})" if flag else path
    return ConfigError(f"{label}: expected {expected}, got {value!r}")


def check_choice(path: str, value: Any, options: tuple[str, ...]) -> None:
    """Raise `invalid` unless `value` is one of `options` (for names that are not fields: `network`)."""
    if value not in options:
        raise invalid(path, "one of " + ", ".join(options), value)
