"""The training command line: its flags, and how they resolve into a `RunConfig`.

Each flag sets one config field. The base is `--config FILE` when given, else the config saved in
the run directory when resuming, else the dataset's preset; flags given override it. Resuming with
flags that would change the model is refused.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from tfcolor import runs
from tfcolor.config import DATASETS, MODELS, NETWORK_PRESETS, PRESETS, RunConfig, filters_for_depth, network_depth

# Flags whose values may change when a run is resumed; any other difference means another model.
RESUMABLE_CHANGES = {"train", "data.dataset_path", "data.augment", "data.cache", "data.demo_patches"}


def str2bool(value: str) -> bool:
    """The seed's boolean flags: `--augment`, `--augment 1`, `--augment false`..."""
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on", "y"):
        return True
    if lowered in ("0", "false", "no", "off", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false, 1/0), got {value!r}")


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tfcolor.train",
        description="Train the colorization GAN (Nazeri et al. 2018) or its U-Net baseline on Lab images.",
        epilog="Defaults come from the dataset's preset (the seed's published settings): "
        + "; ".join(
            f"{name}: batch {p.train.batch_size}, {p.train.epochs} epochs, {p.data.image_size}px, "
            f"{p.model.network_preset} network"
            for name, p in PRESETS.items()
        )
        + ". Everything else: seed 100, lr 3e-4 (discriminator 3e-5), beta1 0, l1-weight 100, "
        "lr decay 0.1 per 1e5 batches, acc-thresh 2. Resuming keeps the saved run's settings.",
    )

    def flag(name, help_text, **kwargs):
        parser.add_argument(name, help=help_text, **kwargs)

    def switch(name, help_text):
        parser.add_argument(name, type=str2bool, nargs="?", const=True, metavar="BOOL", help=help_text)

    flag("--config", "start from this run config JSON (e.g. tune's best_config.json); flags override it")
    flag("--dataset", "dataset to train on; `demo` is the embedded default", choices=DATASETS)
    flag("--dataset-path", "where the dataset lives (not needed for demo)")
    flag("--checkpoints-path", "run directory for checkpoints, logs, samples and config "
         "(default: checkpoints/<name>); re-running with it resumes")
    flag("--name", "experiment name (default: the dataset's)")
    flag("--model", "`gan` (the paper) or `unet` (L1-only baseline)", choices=MODELS)
    flag("--network", "network tables: the seed's cifar10 (32x32), places365 (256x256) or the "
         "narrower demo U-Net", choices=sorted(NETWORK_PRESETS))
    flag("--base-filters", "general U-Net: filters of the first unit (with --depth)", type=_positive_int)
    flag("--depth", "general U-Net: number of stride-2 units (with --base-filters)", type=_positive_int)
    flag("--image-size", "training patch size; a multiple of 2**depth", type=_positive_int)
    flag("--color-space", "what the network predicts", choices=("lab", "rgb"))
    flag("--seed", "random seed (data order, augmentation, initial weights)", type=int)
    flag("--batch-size", "images per batch", type=_positive_int)
    flag("--epochs", "epochs to train (an epoch is one pass over the training images)", type=_positive_int)
    flag("--max-steps", "stop after this many batches in total (quick runs, tests)", type=_positive_int)
    flag("--lr", "generator learning rate; the discriminator's is a tenth", type=float)
    switch("--lr-decay", "decay the learning rates exponentially (floor 1e-6)")
    flag("--lr-decay-rate", "decay factor per --lr-decay-steps batches", type=float)
    flag("--lr-decay-steps", "batches over which the rate decays by --lr-decay-rate", type=_positive_int)
    flag("--beta1", "Adam's beta1", type=float)
    flag("--l1-weight", "weight of the L1 term in the generator loss", type=float)
    switch("--augment", "random horizontal flips")
    switch("--label-smoothing", "one-sided label smoothing (real label 0.9)")
    switch("--cache", "cache decoded images in memory after the first epoch")
    flag("--demo-patches", "training patches cut from the embedded photos per epoch", type=_positive_int)
    flag("--acc-thresh", "pixel accuracy threshold (L within t, a and b within 2.2 t)", type=float)
    flag("--jit-compile", "XLA: auto = on with a GPU, off on CPU (measured slower there)",
         choices=("auto", "on", "off"))
    flag("--gpu-ids", "comma-separated GPU indices to use, -1 for CPU only")
    switch("--save", "save checkpoints")
    flag("--save-interval", "save a checkpoint every N batches", type=int)
    switch("--sample", "save sample grids (gray | original | colorized)")
    flag("--sample-size", "images in a sample grid", type=_positive_int)
    flag("--sample-interval", "write a sample grid every N batches", type=int)
    switch("--validate", "validate at the end of epochs")
    flag("--validate-interval", "validate every N epochs", type=_positive_int)
    switch("--log", "also write per-epoch metrics to <run>/log.csv")
    flag("--log-interval", "write batch scalars to TensorBoard every N batches", type=int)
    return parser


_DATA_FLAGS = {"dataset", "dataset_path", "image_size", "color_space", "augment", "cache", "demo_patches"}
_MODEL_FLAGS = {"model"}


def _with_flags(config: RunConfig, args: argparse.Namespace) -> RunConfig:
    given = {key: value for key, value in vars(args).items() if value is not None}
    model = config.model
    if "network" in given:
        model = dataclasses.replace(NETWORK_PRESETS[given["network"]], model=model.model)
    if "base_filters" in given or "depth" in given:
        base = given.get("base_filters", model.generator_filters[0])
        depth = given.get("depth", network_depth(model))
        model = dataclasses.replace(
            model,
            network_preset="custom",
            generator_filters=filters_for_depth(base, depth),
            generator_dropout=tuple(0.5 if i < 2 else 0.0 for i in range(depth)),
            discriminator_filters=filters_for_depth(base, 3),
        )
    model = dataclasses.replace(model, **{k: v for k, v in given.items() if k in _MODEL_FLAGS})
    data_config = dataclasses.replace(config.data, **{k: v for k, v in given.items() if k in _DATA_FLAGS})
    train_fields = {f.name for f in dataclasses.fields(config.train)}
    train = dataclasses.replace(config.train, **{k: v for k, v in given.items() if k in train_fields})
    return RunConfig(data=data_config, model=model, train=train)


def default_preset(args: argparse.Namespace) -> RunConfig:
    """The dataset's preset; a folder trained at small sizes gets the CIFAR-10 network."""
    preset = PRESETS[args.dataset or "demo"]
    if args.dataset == "folder" and args.image_size and args.image_size < 128:
        preset = dataclasses.replace(preset, model=NETWORK_PRESETS["cifar10"])
    return preset


def flatten(config: RunConfig) -> dict[str, object]:
    flat = {}
    for section, values in dataclasses.asdict(config).items():
        for key, value in values.items():
            flat[f"{section}.{key}"] = value
    return flat


def incompatible_changes(saved: RunConfig, requested: RunConfig) -> list[str]:
    """Fields that differ and would make the saved checkpoint belong to another model."""
    old, new = flatten(saved), flatten(requested)
    return sorted(
        key for key in new
        if old.get(key) != new[key] and key not in RESUMABLE_CHANGES and key.split(".")[0] not in RESUMABLE_CHANGES
    )


def load_config_file(path: str) -> RunConfig:
    """A `--config` JSON file (e.g. a tuning search's best_config.json); errors name the file."""
    try:
        return RunConfig.load(path)
    except FileNotFoundError:
        raise ValueError(f"--config {path}: no such file") from None
    except (ValueError, TypeError) as error:
        raise ValueError(f"--config {path}: not a tfcolor run config ({error})") from None


def resolve_config(args: argparse.Namespace) -> tuple[RunConfig, Path]:
    """The run's config: `--config` FILE, else the saved one when resuming, else the dataset's preset;
    flags override whichever it is."""
    file_config = load_config_file(args.config) if args.config else None
    preset = default_preset(args)
    name = args.name or (file_config or preset).train.name
    run_dir = Path(args.checkpoints_path or Path("checkpoints") / name)
    saved = runs.load_config(run_dir) if (run_dir / runs.CONFIG_FILE).is_file() else None
    base = file_config or saved or preset
    config = _with_flags(base, args)
    if saved:
        changed = incompatible_changes(saved, config)
        if changed:
            raise ValueError(
                f"{run_dir} holds a run with a different {', '.join(changed)}; "
                f"use a new --checkpoints-path for a new model."
            )
    depth = network_depth(config.model)
    if config.data.image_size % 2**depth:
        raise ValueError(f"--image-size {config.data.image_size} must be a multiple of 2**depth = {2**depth}.")
    return config, run_dir
