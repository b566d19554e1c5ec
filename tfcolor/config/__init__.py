"""Run configuration, the one authority: dataclasses, presets, overrides and validation.

A run's configuration is one frozen `RunConfig` (data, model and training sections). It is built
one way only, by `resolve(overrides, base)`: the base (a preset, a `--config` JSON file, or the
config saved in a run directory) with overrides applied and the result validated. Command-line
flags are such overrides, one flag per field (`--lr-decay-steps` sets `train.lr_decay_steps`), so
a bad value gets the same message from a flag, a JSON file, keras-tuner or Python code.

This module imports nothing heavy (no TensorFlow), so CLIs can check their arguments quickly.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tfcolor.config import rules
from tfcolor.config.rules import ConfigError

__all__ = ["ConfigError", "DataConfig", "ModelConfig", "TrainConfig", "RunConfig", "resolve", "preset_for"]

DATASETS = rules.DATASETS
# Photos with more pixels are skipped before decoding (a 20000x20000 PNG is 1.2 MB on disk, 4.8 GB
# decoded). The one default of training data, colorize, evaluate and the exported signatures.
DEFAULT_MAX_PIXELS = 50_000_000
CUSTOM_NETWORK = rules.CUSTOM_NETWORK


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the photos come from and how they are cut and augmented."""

    dataset: str = "demo"
    dataset_path: str | None = None
    image_size: int = 32
    color_space: str = "lab"
    augment: bool = True
    cache: bool = False
    demo_patches: int = 2048
    crop_scale: tuple[float, ...] | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The networks. Filter tuples are the original (ImagingLab) code's layer tables; `network_preset`
    names the table they come from (`custom` for the general U-Net of `general_unet`)."""

    model: str = "gan"
    network_preset: str = "cifar10"
    generator_filters: tuple[int, ...] = (64, 128, 256, 512, 512)
    generator_dropout: tuple[float, ...] = (0.5, 0.5, 0.0, 0.0)
    discriminator_filters: tuple[int, ...] = (64, 128, 256, 512)
    discriminator_strides: tuple[int, ...] = (2, 2, 2, 1)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation, bookkeeping and logging; the original code's option names and defaults."""

    seed: int = 100
    name: str = "tfcolor"
    batch_size: int = 128
    epochs: int = 200
    max_steps: int | None = None
    lr: float = 3e-4
    lr_decay: bool = True
    lr_decay_rate: float = 0.1
    lr_decay_steps: int = 100_000
    beta1: float = 0.0
    l1_weight: float = 100.0
    label_smoothing: bool = False
    acc_thresh: float = 2.0
    ema_decay: float = 0.0
    jit_compile: str = "auto"
    precision: str = "auto"
    strategy: str = "auto"
    save: bool = True
    save_interval: int = 1000
    sample: bool = True
    sample_size: int = 8
    sample_interval: int = 1000
    validate: bool = True
    validate_interval: int = 1
    log: bool = False
    log_interval: int = 10


SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """A whole run: data, model and training sections."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()

    def validate(self, needs_dataset: bool = True) -> "RunConfig":
        """Return self when every field is valid; raise `ConfigError` naming every bad field otherwise.

        `needs_dataset=False` skips the one rule that only training needs (a dataset path for datasets
        read from disk), for building a model from a preset alone."""
        rules.check(self, (*NETWORK_PRESETS, CUSTOM_NETWORK), needs_dataset)
        return self

    def override(self, overrides: Mapping[str, Any]) -> "RunConfig":
        """A validated copy with `overrides` (field names, or `network`/`base_filters`/`depth`) applied."""
        return resolve(overrides, base=self)

    def flat(self) -> dict[str, Any]:
        """`{"section.field": value}` for every field."""
        return {f"{section}.{key}": value
                for section, values in dataclasses.asdict(self).items() for key, value in values.items()}

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "RunConfig":
        """The config a `to_json` dict describes (missing fields keep their defaults), validated; the
        dataset path may come later (a flag), so only `resolve` and training insist on it."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"a run config is a JSON object with sections {sorted(SECTIONS)}, got {type(values).__name__}")
        unknown = sorted(set(values) - set(SECTIONS))
        if unknown:
            raise ConfigError(f"unknown config sections {unknown}; expected some of {sorted(SECTIONS)}")
        sections = {}
        for name, section_type in SECTIONS.items():
            given = values.get(name, {})
            if not isinstance(given, Mapping):
                raise ConfigError(f"config section {name!r} must be an object, got {type(given).__name__}")
            fields = rules.coerce_section(name, section_type, given)
            sections[name] = section_type(**fields)
        return cls(**sections).validate(needs_dataset=False)

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        """A run config JSON file (`config.json` of a run, tune's `best_config.json`); errors name the file."""
        try:
            values = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ConfigError(f"{path}: not a JSON run config ({error})") from None
        try:
            return cls.from_dict(values)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None


def filters_for_depth(base_filters: int, depth: int, cap_multiplier: int = 8) -> tuple[int, ...]:
    """The general U-Net encoder table: `depth + 1` units, doubling from `base_filters`, capped at 8x."""
    return tuple(base_filters * min(2**i, cap_multiplier) for i in range(depth + 1))


def general_unet(base_filters: int, depth: int, model: str = "gan", dropout: float = 0.5) -> ModelConfig:
    """The general U-Net of `--base-filters`/`--depth` (and of the tuner): the CIFAR-10 pattern at
    any width and depth, dropout on the first two decoder units, a 4-unit PatchGAN of the same width."""
    return ModelConfig(
        model=model,
        network_preset=CUSTOM_NETWORK,
        generator_filters=filters_for_depth(base_filters, depth),
        generator_dropout=tuple(dropout if i < 2 else 0.0 for i in range(depth)),
        discriminator_filters=filters_for_depth(base_filters, 3),
    )


def network_depth(model: ModelConfig) -> int:
    """Number of stride-2 downsamplings in the generator: inputs must be multiples of 2**depth."""
    return len(model.generator_filters) - 1


NETWORK_PRESETS: dict[str, ModelConfig] = {
    "cifar10": ModelConfig(),
    "places365": ModelConfig(
        network_preset="places365",
        generator_filters=(64, 64, 128, 256, 512, 512, 512, 512),
        generator_dropout=(0.0,) * 7,
    ),
    # A narrower CIFAR-10 U-Net (same depth) so the embedded demo trains in minutes on a laptop CPU.
    "demo": ModelConfig(
        network_preset="demo",
        generator_filters=filters_for_depth(32, 4),
        discriminator_filters=(32, 64, 128, 256),
    ),
}

PRESETS: dict[str, RunConfig] = {
    "cifar10": RunConfig(
        data=DataConfig(dataset="cifar10", image_size=32),
        model=NETWORK_PRESETS["cifar10"],
        train=TrainConfig(name="cifar10", batch_size=128, epochs=200, lr_decay_steps=10_000),
    ),
    "places365": RunConfig(
        data=DataConfig(dataset="places365", image_size=256),
        model=NETWORK_PRESETS["places365"],
        train=TrainConfig(name="places365", batch_size=16, epochs=10, label_smoothing=True),
    ),
    # The demo and folder presets add what measured better on photos never trained on (README,
    # benchmarks/RESULTS.md): a moving average of the generator, and crops at every scale of a photo.
    "demo": RunConfig(
        data=DataConfig(dataset="demo", image_size=32, demo_patches=8192),
        model=NETWORK_PRESETS["demo"],
        train=TrainConfig(
            name="demo", batch_size=32, epochs=4, lr_decay_steps=10_000, ema_decay=0.99, save_interval=200,
            sample_interval=200,
        ),
    ),
    "folder": RunConfig(
        data=DataConfig(dataset="folder", image_size=256, crop_scale=(0.25, 1.0)),
        model=NETWORK_PRESETS["places365"],
        train=TrainConfig(name="folder", batch_size=16, epochs=10, ema_decay=0.999),
    ),
    # Shards (`python -m tfcolor.shards`) are for datasets too big for a folder of files: Places365's settings.
    "tfrecord": RunConfig(
        data=DataConfig(dataset="tfrecord", image_size=256),
        model=NETWORK_PRESETS["places365"],
        train=TrainConfig(name="tfrecord", batch_size=16, epochs=10, label_smoothing=True),
    ),
}

# Settings that may change when a run is resumed; any other difference means another model.
RESUMABLE_FIELDS = ("train.", "data.dataset_path", "data.augment", "data.cache", "data.demo_patches",
                    "data.crop_scale", "data.max_pixels")


def preset_for(dataset: str | None = None, image_size: int | None = None) -> RunConfig:
    """The dataset's preset (the original's published settings); a folder or shards trained below 128 px
    get the CIFAR-10 network, which suits small images."""
    dataset = dataset or "demo"
    rules.check_choice("data.dataset", dataset, DATASETS)
    preset = PRESETS[dataset]
    if dataset in ("folder", "tfrecord") and image_size and image_size < 128:
        preset = dataclasses.replace(preset, model=NETWORK_PRESETS["cifar10"])
    return preset


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
    typed = rules.coerce_overrides({k: v for k, v in (overrides or {}).items() if v is not None}, SECTIONS)
    if base is None:
        base = preset_for(typed.get("data.dataset"), typed.get("data.image_size"))
    model = base.model
    if "network" in typed:
        rules.check_choice("network", typed["network"], tuple(NETWORK_PRESETS))
        model = dataclasses.replace(NETWORK_PRESETS[typed["network"]], model=model.model)
    if "base_filters" in typed or "depth" in typed:
        width = typed.get("base_filters", model.generator_filters[0])
        depth = typed.get("depth", network_depth(model))
        rules.check_network_shortcuts(width, depth)
        model = general_unet(width, depth, model.model)
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
