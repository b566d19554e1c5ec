"""Typing of config values as they arrive: strings from a command line (`"3e-4"`, `"8,16,32"`), lists from JSON.

Each value becomes the type its dataclass field declares, or a `ConfigError` naming the field and its flag.
"""
from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from typing import Any

from tfcolor.config.rules import ConfigError, invalid

TRUE_WORDS = ("1", "true", "yes", "on", "y")
FALSE_WORDS = ("0", "false", "no", "off", "n")
# Names that choose a whole network table rather than set one field.
SHORTCUT_TYPES = {"network": str, "base_filters": int, "depth": int}


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


def _coerce(path: str, value: Any, annotation: Any, field: dataclasses.Field | None = None) -> Any:
    arguments = typing.get_args(annotation)
    if type(None) in arguments:  # `X | None`
        if value is None:
            return None
        annotation = next(a for a in arguments if a is not type(None))
        arguments = typing.get_args(annotation)
    if typing.get_origin(annotation) is tuple:  # `tuple[int, ...]`: a JSON list or "8,16,32"
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise invalid(path, "a list", value, field)
        return tuple(_coerce(path, item, arguments[0], field) for item in items)
    convert, expected = _CONVERTERS[annotation]
    try:
        return convert(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        raise invalid(path, expected, value, field) from None


def coerce_section(name: str, section_type: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of one section (`{"lr": "3e-4"}`) typed as the dataclass declares them."""
    hints = typing.get_type_hints(section_type)
    fields = {field.name: field for field in dataclasses.fields(section_type)}
    unknown = sorted(set(values) - set(hints))
    if unknown:
        raise ConfigError(f"unknown {name} config keys {unknown}; expected some of {sorted(hints)}")
    return {key: _coerce(f"{name}.{key}", value, hints[key], fields[key]) for key, value in values.items()}


def coerce_overrides(overrides: Mapping[str, Any], sections: Mapping[str, type]) -> dict[str, Any]:
    """`{"lr": "1e-3", "train.epochs": 2, "depth": "3"}` -> `{"train.lr": 1e-3, "train.epochs": 2, "depth": 3}`."""
    owner = {f.name: name for name, section in sections.items() for f in dataclasses.fields(section)}
    typed = {}
    for key, value in overrides.items():
        if key in SHORTCUT_TYPES:
            typed[key] = _coerce(key, value, SHORTCUT_TYPES[key])
            continue
        section, _, field = key.rpartition(".")
        section = section or owner.get(field, "")
        if section not in sections or field not in {f.name for f in dataclasses.fields(sections[section])}:
            known = sorted([*owner, *SHORTCUT_TYPES])
            raise ConfigError(f"unknown setting {key!r}; expected one of {', '.join(known)}")
        typed[f"{section}.{field}"] = coerce_section(section, sections[section], {field: value})[field]
    return typed
