"""Building a run's config the one way: a base (a preset, a `--config` file, a run's saved config) with
overrides applied, validated.

Command-line flags are such overrides, one flag per field (`--lr-decay-steps` sets
`train.lr_decay_steps`), so a bad value gets the same message from a flag, a JSON file, keras-tuner or
Python code.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from tfcolor.config.coercion import coerce_overrides
from tfcolor.config.presets import NETWORK_PRESETS, general_unet, preset_for, with_network_tables
from tfcolor.config.rules import check_choice, invalid, is_positive_int
from tfcolor.config.schema import SECTIONS, RunConfig

# Settings that may change when a run is resumed; any other difference means another model.
RESUMABLE_FIELDS = ("train.", "data.dataset_path", "data.validation_path", "data.augment", "data.augment_lightness",
                    "data.cache", "data.demo_patches", "data.crop_scale", "data.max_pixels",
                    "data.source_balance", "model.flip_average")


def _check_network_shortcuts(base_filters: int, depth: int) -> None:
    """`--base-filters` and `--depth` build a table before any field exists, so they are checked here."""
    for path, value in (("base_filters", base_filters), ("depth", depth)):
        if not is_positive_int(value):
            raise invalid(path, "a positive integer", value)


def resolve(overrides: Mapping[str, Any] | None = None, base: RunConfig | None = None) -> RunConfig:
    """`base` (default: the preset of the dataset the overrides name) with `overrides` applied, validated.

    Args:
        overrides: field names (`lr`, `image_size`, or `train.lr`) to values, typed or strings as a
            command line gives them; plus `network` (a preset's tables), or `base_filters` and
            `depth` (the general U-Net). None values are ignored.

    Raises:
        ConfigError: an unknown name, or a value of the wrong type or out of range; the message names
            the field, its flag, and what is allowed.
    """
    typed = coerce_overrides({k: v for k, v in (overrides or {}).items() if v is not None}, SECTIONS)
    if base is None:
        base = preset_for(typed.get("data.dataset"), typed.get("data.image_size"))
    model = base.model
    if "network" in typed:
        check_choice("network", typed["network"], tuple(NETWORK_PRESETS))
        model = with_network_tables(model, NETWORK_PRESETS[typed["network"]])
    if "base_filters" in typed or "depth" in typed:
        width = typed.get("base_filters", model.generator_filters[0])
        depth = typed.get("depth", model.depth)
        _check_network_shortcuts(width, depth)
        model = with_network_tables(model, general_unet(width, depth))
    sections = {"data": base.data, "model": model, "train": base.train}
    for name in sections:
        prefix = f"{name}."
        fields = {key[len(prefix):]: value for key, value in typed.items() if key.startswith(prefix)}
        sections[name] = dataclasses.replace(sections[name], **fields)
    return RunConfig(**sections).validate()


def incompatible_changes(saved: RunConfig, requested: RunConfig) -> list[str]:
    """Fields that differ and would make a saved checkpoint belong to another model."""
    old, new = saved.flat(), requested.flat()
    return sorted(key for key in new if old.get(key) != new[key] and not key.startswith(RESUMABLE_FIELDS))
