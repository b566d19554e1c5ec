"""What a valid run configuration is: allowed names, value ranges, and typing of flag strings.

`tfcolor.config` owns the dataclasses; this module owns the rules they are checked against, so a
value is refused the same way, with the same message, whichever entry point it came through. A
message names the field, the flag that sets it, what is allowed and what was given:

    train.batch_size (--batch-size): expected a positive integer, got 0
"""
from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfcolor.config import RunConfig

STRATEGIES = ("auto", "default", "mirrored", "multi-worker")
DATASETS = ("demo", "cifar10", "places365", "folder", "tfrecord")
MODELS = ("gan", "unet")
COLOR_SPACES = ("lab", "rgb")
JIT_SETTINGS = ("auto", "on", "off")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
CUSTOM_NETWORK = "custom"
TRUE_WORDS = ("1", "true", "yes", "on", "y")
FALSE_WORDS = ("0", "false", "no", "off", "n")
# Fields set by a flag of another name, and fields no flag sets (a JSON config or code can).
_FLAG_NAMES = {"model.network_preset": "--network", "network": "--network"}
_NO_FLAG = ("model.generator_filters", "model.generator_dropout", "model.discriminator_filters",
            "model.discriminator_strides")
_SHORTCUT_TYPES = {"network": str, "base_filters": int, "depth": int}


class ConfigError(ValueError):
    """A configuration value is unknown or invalid; the message names the field and what is allowed."""


def label(path: str) -> str:
    """`train.batch_size` -> `train.batch_size (--batch-size)`: the field and the flag that sets it."""
    if path in _NO_FLAG:
        return path
    flag = _FLAG_NAMES.get(path, "--" + path.rsplit(".", 1)[-1].replace("_", "-"))
    return f"{path} ({flag})"


def invalid(path: str, expected: str, value: Any) -> ConfigError:
    """The one message shape for a bad value: `section.field (--flag): expected ..., got ...`."""
    return ConfigError(f"{label(path)}: expected {expected}, got {value!r}")


def check_choice(path: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise `invalid` unless `value` is one of `choices`."""
    if value not in choices:
        raise invalid(path, "one of " + ", ".join(choices), value)


def check_network_shortcuts(base_filters: int, depth: int) -> None:
    """`--base-filters` and `--depth` build a table before any field exists, so they are checked here."""
    for path, value in (("base_filters", base_filters), ("depth", depth)):
        if not _positive_int(value):
            raise invalid(path, "a positive integer", value)


# ---- typing: strings from a command line, lists from JSON -> the field's type -------------------

def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in TRUE_WORDS + FALSE_WORDS:
        return value.lower() in TRUE_WORDS
    raise ValueError


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError
    return int(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError
    return float(value)


def _to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value


_CONVERTERS: dict[Any, tuple[Callable[[Any], Any], str]] = {
    bool: (_to_bool, "a boolean (true/false, 1/0)"),
    int: (_to_int, "an integer"),
    float: (_to_float, "a number"),
    str: (_to_str, "a string"),
}


def _coerce(path: str, value: Any, annotation: Any) -> Any:
    arguments = typing.get_args(annotation)
    if type(None) in arguments:  # `X | None`
        if value is None:
            return None
        annotation = next(a for a in arguments if a is not type(None))
        arguments = typing.get_args(annotation)
    if typing.get_origin(annotation) is tuple:  # `tuple[int, ...]`: a JSON list or "8,16,32"
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise invalid(path, "a list", value)
        return tuple(_coerce(path, item, arguments[0]) for item in items)
    convert, expected = _CONVERTERS[annotation]
    try:
        return convert(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        raise invalid(path, expected, value) from None


def coerce_section(name: str, section_type: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of one section (`{"lr": "3e-4"}`) typed as the dataclass declares them."""
    hints = typing.get_type_hints(section_type)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ConfigError(f"unknown {name} config keys {unknown}; expected some of {sorted(hints)}")
    return {key: _coerce(f"{name}.{key}", value, hints[key]) for key, value in values.items()}


def coerce_overrides(overrides: Mapping[str, Any], sections: Mapping[str, type]) -> dict[str, Any]:
    """`{"lr": "1e-3", "train.epochs": 2, "depth": "3"}` -> `{"train.lr": 1e-3, "train.epochs": 2, "depth": 3}`."""
    owner = {f.name: name for name, section in sections.items() for f in dataclasses.fields(section)}
    typed = {}
    for key, value in overrides.items():
        if key in _SHORTCUT_TYPES:
            typed[key] = _coerce(key, value, _SHORTCUT_TYPES[key])
            continue
        section, _, field = key.rpartition(".")
        section = section or owner.get(field, "")
        if section not in sections or field not in {f.name for f in dataclasses.fields(sections[section])}:
            known = sorted([*owner, *_SHORTCUT_TYPES])
            raise ConfigError(f"unknown setting {key!r}; expected one of {', '.join(known)}")
        typed[f"{section}.{field}"] = coerce_section(section, sections[section], {field: value})[field]
    return typed


# ---- ranges and names ---------------------------------------------------------------------------

def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _non_negative_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number_in(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Callable[[Any], bool]:
    def inside(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        return above and below
    return inside


def _rules(network_names: tuple[str, ...]) -> list[tuple[str, Callable[[Any], bool], str]]:
    """(field, test, what is expected) for every field with a rule of its own."""
    positive = (_positive_int, "a positive integer")
    non_negative = (_non_negative_int, "a non-negative integer (0: never)")
    return [
        ("data.dataset", lambda v: v in DATASETS, "one of " + ", ".join(DATASETS)),
        ("data.image_size", *positive),
        ("data.color_space", lambda v: v in COLOR_SPACES, "one of " + ", ".join(COLOR_SPACES)),
        ("data.demo_patches", *positive),
        ("data.max_pixels", *positive),
        ("data.crop_scale", lambda v: v is None or (len(v) == 2 and all(map(_number_in(0.0, 1.0, low_open=True), v))
                                                    and v[0] <= v[1]),
         "two fractions MIN,MAX with 0 < MIN <= MAX <= 1"),
        ("model.model", lambda v: v in MODELS, "one of " + ", ".join(MODELS)),
        ("model.network_preset", lambda v: v in network_names, "one of " + ", ".join(network_names)),
        ("model.generator_filters", lambda v: len(v) >= 2 and all(map(_positive_int, v)),
         "at least two positive integers"),
        ("model.generator_dropout", lambda v: all(map(_number_in(0.0, 1.0, high_open=True), v)),
         "rates in [0, 1)"),
        ("model.discriminator_filters", lambda v: len(v) >= 1 and all(map(_positive_int, v)),
         "positive integers"),
        ("model.discriminator_strides", lambda v: all(s in (1, 2) for s in v), "strides of 1 or 2"),
        ("train.seed", lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
        ("train.name", lambda v: bool(v) and "/" not in v and v not in (".", ".."),
         "a non-empty name without '/' (it names the run folder)"),
        ("train.batch_size", *positive),
        ("train.epochs", *positive),
        ("train.max_steps", lambda v: v is None or _positive_int(v), "a positive integer"),
        ("train.lr", _number_in(0.0, math.inf, low_open=True, high_open=True), "a positive number"),
        ("train.lr_decay_rate", _number_in(0.0, 1.0, low_open=True), "a number in (0, 1]"),
        ("train.lr_decay_steps", *positive),
        ("train.beta1", _number_in(0.0, 1.0, high_open=True), "a number in [0, 1)"),
        ("train.l1_weight", _number_in(0.0, math.inf, high_open=True), "a non-negative number"),
        ("train.acc_thresh", _number_in(0.0, math.inf, low_open=True, high_open=True), "a positive number"),
        ("train.ema_decay", _number_in(0.0, 1.0, high_open=True), "a number in [0, 1) (0: no moving average)"),
        ("train.jit_compile", lambda v: v in JIT_SETTINGS, "one of " + ", ".join(JIT_SETTINGS)),
        ("train.precision", lambda v: v in PRECISIONS, "one of " + ", ".join(PRECISIONS)),
        ("train.strategy", lambda v: v in STRATEGIES, "one of " + ", ".join(STRATEGIES)),
        ("train.save_interval", *non_negative),
        ("train.sample_size", *positive),
        ("train.sample_interval", *non_negative),
        ("train.validate_interval", *positive),
        ("train.log_interval", *non_negative),
    ]


def _cross_field_problems(config: RunConfig, needs_dataset: bool) -> list[str]:
    """Rules that tie fields together: sizes against the network's depth, tables against each other."""
    problems = []
    model, data = config.model, config.data
    depth = len(model.generator_filters) - 1
    if len(model.generator_dropout) != depth:
        problems.append(f"{label('model.generator_dropout')}: expected one rate per decoder unit ({depth}), "
                        f"got {len(model.generator_dropout)}")
    if len(model.discriminator_strides) != len(model.discriminator_filters):
        problems.append(f"{label('model.discriminator_strides')}: expected one stride per discriminator unit "
                        f"({len(model.discriminator_filters)}), got {len(model.discriminator_strides)}")
    if _positive_int(data.image_size) and depth > 0 and data.image_size % 2**depth:
        problems.append(f"{label('data.image_size')}: expected a multiple of 2**depth = {2**depth} "
                        f"(the generator halves the size {depth} times), got {data.image_size}")
    if needs_dataset and data.dataset in DATASETS and data.dataset != "demo" and not data.dataset_path:
        problems.append(f"{label('data.dataset_path')}: expected the folder of the {data.dataset} dataset "
                        f"(--dataset {data.dataset} reads it from disk), got None")
    return problems


def check(config: RunConfig, network_names: tuple[str, ...], needs_dataset: bool = True) -> None:
    """Raise one `ConfigError` listing every invalid field of a `RunConfig`, or return."""
    problems = []
    for path, test, expected in _rules(network_names):
        section, field = path.split(".")
        value = getattr(getattr(config, section), field)
        try:
            valid = test(value)
        except TypeError:
            valid = False
        if not valid:
            problems.append(str(invalid(path, expected, value)))
    if not problems:
        problems = _cross_field_problems(config, needs_dataset)
    if problems:
        raise ConfigError("; ".join(problems))
