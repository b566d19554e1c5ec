"""Run configuration: one frozen dataclass per concern, named presets, defaults in one place.

The command-line flags of `python -m tfcolor.train` map one-to-one onto these fields (a flag
`--lr-decay-steps` sets `TrainConfig.lr_decay_steps`), so a resolved config saved as JSON beside a
run is everything needed to rebuild its model.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

DATASETS = ("demo", "cifar10", "places365", "folder")
MODELS = ("gan", "unet")


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


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The networks. Filter tuples are the seed's layer tables; `network_preset` documents their origin."""

    model: str = "gan"
    network_preset: str = "cifar10"
    generator_filters: tuple[int, ...] = (64, 128, 256, 512, 512)
    generator_dropout: tuple[float, ...] = (0.5, 0.5, 0.0, 0.0)
    discriminator_filters: tuple[int, ...] = (64, 128, 256, 512)
    discriminator_strides: tuple[int, ...] = (2, 2, 2, 1)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation, bookkeeping and logging; the seed's option names and defaults."""

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
    jit_compile: str = "auto"
    save: bool = True
    save_interval: int = 1000
    sample: bool = True
    sample_size: int = 8
    sample_interval: int = 1000
    validate: bool = True
    validate_interval: int = 1
    log: bool = False
    log_interval: int = 10


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """A whole run: data, model and training sections."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        sections = {}
        for field in dataclasses.fields(cls):
            section_type = type(getattr(cls(), field.name))
            given = dict(values.get(field.name, {}))
            known = {f.name: f for f in dataclasses.fields(section_type)}
            unknown = sorted(set(given) - set(known))
            if unknown:
                raise ValueError(f"Unknown {field.name} config keys {unknown}; expected some of {sorted(known)}.")
            for key, value in given.items():
                if isinstance(value, list):
                    given[key] = tuple(value)
            sections[field.name] = section_type(**given)
        return cls(**sections)

    @classmethod
    def load(cls, path: str | Path) -> "RunConfig":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def filters_for_depth(base_filters: int, depth: int, cap_multiplier: int = 8) -> tuple[int, ...]:
    """The general U-Net encoder table: `depth + 1` units, doubling from `base_filters`, capped at 8x."""
    return tuple(base_filters * min(2**i, cap_multiplier) for i in range(depth + 1))


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
    "demo": RunConfig(
        data=DataConfig(dataset="demo", image_size=32),
        model=NETWORK_PRESETS["demo"],
        train=TrainConfig(
            name="demo", batch_size=32, epochs=4, lr_decay_steps=10_000, save_interval=200, sample_interval=50
        ),
    ),
    "folder": RunConfig(
        data=DataConfig(dataset="folder", image_size=256),
        model=NETWORK_PRESETS["places365"],
        train=TrainConfig(name="folder", batch_size=16, epochs=10),
    ),
}


def network_depth(model: ModelConfig) -> int:
    """Number of stride-2 downsamplings in the generator: inputs must be multiples of 2**depth."""
    return len(model.generator_filters) - 1
