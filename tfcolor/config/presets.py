"""The presets: the original's network tables and each dataset's published settings, as data.

`NETWORK_PRESETS` are the (ImagingLab) code's layer tables; `PRESETS` the run settings of each dataset,
which `--dataset` starts from. The general U-Net of `--base-filters`/`--depth` (and of the tuner) is
`general_unet`.
"""
from __future__ import annotations

import dataclasses

from tfcolor.config.rules import CUSTOM_NETWORK, DATASETS, check_choice
from tfcolor.config.schema import DataConfig, ModelConfig, RunConfig, TrainConfig


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


NETWORK_TABLE_FIELDS = ("network_preset", "generator_filters", "generator_dropout", "discriminator_filters",
                        "discriminator_strides")


def with_network_tables(model: ModelConfig, tables: ModelConfig) -> ModelConfig:
    """`model` with the layer tables of `tables`: a network shortcut changes the tables alone, so the
    model kind and the preset's other model settings (the confidence network) stay."""
    return dataclasses.replace(model, **{name: getattr(tables, name) for name in NETWORK_TABLE_FIELDS})


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
    # On photo sources never trained on (benchmarks/RESULTS.md, cross-source), the adversarial term at
    # the paper's weight painted colour that is wrong there: the folder preset weighs L1 at 300 and
    # learns a per-pixel confidence that fades the colour it gets wrong (GAN above gray at 32 and 64 px).
    "folder": RunConfig(
        data=DataConfig(dataset="folder", image_size=256, crop_scale=(0.25, 1.0)),
        model=dataclasses.replace(NETWORK_PRESETS["places365"], confidence=True),
        train=TrainConfig(name="folder", batch_size=16, epochs=10, ema_decay=0.999, l1_weight=300.0),
    ),
    # Shards (`python -m tfcolor.shards`) are for datasets too big for a folder of files: Places365's settings.
    "tfrecord": RunConfig(
        data=DataConfig(dataset="tfrecord", image_size=256),
        model=NETWORK_PRESETS["places365"],
        train=TrainConfig(name="tfrecord", batch_size=16, epochs=10, label_smoothing=True),
    ),
}


def preset_for(dataset: str | None = None, image_size: int | None = None) -> RunConfig:
    """The dataset's preset (the original's published settings); a folder or shards trained below 128 px
    get the CIFAR-10 network, which suits small images."""
    dataset = dataset or "demo"
    check_choice("data.dataset", dataset, DATASETS)
    preset = PRESETS[dataset]
    if dataset in ("folder", "tfrecord") and image_size and image_size < 128:
        preset = dataclasses.replace(preset, model=with_network_tables(preset.model, NETWORK_PRESETS["cifar10"]))
    return preset
