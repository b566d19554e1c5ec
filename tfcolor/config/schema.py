"""What a run's configuration is: three frozen sections whose fields carry their own check and help.

Each field is declared once, with its default, the rule it must satisfy, what that rule expects (for
messages) and its command-line help (`tfcolor.config.flags` builds the flags from it). A bad value is
refused with one message shape, whichever entry point it came through:

    train.batch_size (--batch-size): expected a positive integer, got 0

No TensorFlow here: commands check their arguments before it loads.
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tfcolor.config import coercion, rules
from tfcolor.config.rules import (
    BOOL_METAVAR,
    COLOR_SPACES,
    CUSTOM_NETWORK,
    DATASETS,
    DEFAULT_MAX_PIXELS,
    FRACTION_PAIR,
    JIT_SETTINGS,
    MODELS,
    NETWORK_TABLES,
    NON_NEGATIVE,
    POSITIVE,
    PRECISIONS,
    STRATEGIES,
    WARM_START_PARTS,
    ConfigError,
    choices,
    invalid,
    is_positive_int,
    number_in,
    one_of,
    setting,
)

# ---- the sections -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the photos come from and how they are cut and augmented."""

    dataset: str = setting("demo", one_of(DATASETS), "dataset to train on; `demo` is the embedded default; "
                           "`tfrecord`: shards written by python -m tfcolor.shards", choices(DATASETS))
    dataset_path: str | None = setting(None, None, "where the dataset lives (not needed for demo)", "PATH")
    validation_path: str | None = setting(
        None, None, "a folder of photos to validate on instead of the dataset's own held-out split: photos "
        "from another source show in TensorBoard whether colour transfers, not whether it is memorised", "PATH")
    image_size: int = setting(32, POSITIVE, "training patch size; a multiple of 2**depth", "PIXELS")
    color_space: str = setting("lab", one_of(COLOR_SPACES), "what the network predicts", choices(COLOR_SPACES))
    augment: bool = setting(True, None, "random horizontal flips", BOOL_METAVAR)
    augment_lightness: bool = setting(
        False, None, "random contrast, gamma and noise of the lightness the network sees (its a*b* target "
        "unchanged), so it learns colour from content rather than from one corpus's exposure", BOOL_METAVAR)
    source_balance: float = setting(
        0.0, (number_in(0.0, 1.0), "a number in [0, 1]"),
        "how evenly the sources of a folder (file-name prefixes: `kphotoalbum-` of kphotoalbum-snow.jpg) are drawn, "
        "so one large collection does not set the palette: a source of n photos is drawn in proportion to "
        "n**(1 - POWER); 0 draws every photo equally often, 1 every source, 0.5 between", "POWER")
    cache: bool = setting(False, None, "decode the training photos once, into memory, at the size their crops need",
                          BOOL_METAVAR)
    demo_patches: int = setting(2048, POSITIVE, "training patches cut from the embedded photos per epoch", "N")
    crop_scale: tuple[float, ...] | None = setting(
        None, FRACTION_PAIR, "training crops: side as a fraction of each photo's shorter side, drawn per image from "
        "MIN,MAX and scaled to --image-size (default: the dataset's; 1,1 is the original's whole square)", "MIN,MAX")
    max_pixels: int = setting(DEFAULT_MAX_PIXELS, POSITIVE,
                              "skip photos with more pixels than this, before decoding them", "N")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """The networks. Filter tuples are the original (ImagingLab) code's layer tables; `network_preset`
    names the table they come from (`custom` for the general U-Net of `general_unet`)."""

    model: str = setting("gan", one_of(MODELS), "`gan` (the paper) or `unet` (L1-only baseline)", choices(MODELS))
    network_preset: str = setting(
        "cifar10", one_of((*NETWORK_TABLES, CUSTOM_NETWORK)),
        "network tables: the original cifar10 (32x32), places365 (256x256) or the narrower demo U-Net",
        choices(NETWORK_TABLES), flag="--network")
    generator_filters: tuple[int, ...] = setting(
        (64, 128, 256, 512, 512), (lambda v: len(v) >= 2 and all(map(is_positive_int, v)), "at least two positive integers"))
    generator_dropout: tuple[float, ...] = setting(
        (0.5, 0.5, 0.0, 0.0), (lambda v: all(map(number_in(0.0, 1.0, high_open=True), v)), "rates in [0, 1)"))
    discriminator_filters: tuple[int, ...] = setting(
        (64, 128, 256, 512), (lambda v: len(v) >= 1 and all(map(is_positive_int, v)), "positive integers"))
    discriminator_strides: tuple[int, ...] = setting(
        (2, 2, 2, 1), (lambda v: all(s in (1, 2) for s in v), "strides of 1 or 2"))
    confidence: bool = setting(
        False, None, "a small second network learns, per pixel, how far to trust the predicted a*b* and moves "
        "them towards neutral where it does not (trained on the colorizing generator's output; Lab only)",
        BOOL_METAVAR)
    flip_average: bool = setting(
        False, None, "colorize each photo and its mirror image and average the two (twice the inference cost): "
        "colour the two disagree on fades towards neutral", BOOL_METAVAR)

    @property
    def depth(self) -> int:
        """Number of stride-2 downsamplings in the generator: inputs must be multiples of 2**depth."""
        return len(self.generator_filters) - 1


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation, bookkeeping and logging; the original code's option names and defaults."""

    seed: int = setting(100, (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
                        "random seed (data order, augmentation, initial weights)", "N")
    name: str = setting("tfcolor", (lambda v: bool(v) and "/" not in v and v not in (".", ".."),
                                    "a non-empty name without '/' (it names the run folder)"),
                        "experiment name (default: the dataset's)")
    batch_size: int = setting(128, POSITIVE, "images per batch: the global batch, split evenly over the replicas "
                              "of --strategy", "N")
    epochs: int = setting(200, POSITIVE, "epochs to train (an epoch is one pass over the training images)", "N")
    max_steps: int | None = setting(None, (lambda v: v is None or is_positive_int(v), "a positive integer"),
                                    "stop after this many batches in total (quick runs, tests)", "N")
    lr: float = setting(3e-4, (number_in(0.0, math.inf, low_open=True, high_open=True), "a positive number"),
                        "generator learning rate; the discriminator's is a tenth", "RATE")
    lr_decay: bool = setting(True, None, "decay the learning rates exponentially (floor 1e-6)", BOOL_METAVAR)
    lr_decay_rate: float = setting(0.1, (number_in(0.0, 1.0, low_open=True), "a number in (0, 1]"),
                                   "decay factor per --lr-decay-steps batches", "RATE")
    lr_decay_steps: int = setting(100_000, POSITIVE, "batches over which the rate decays by --lr-decay-rate", "N")
    beta1: float = setting(0.0, (number_in(0.0, 1.0, high_open=True), "a number in [0, 1)"), "Adam's beta1", "BETA")
    l1_weight: float = setting(100.0, (number_in(0.0, math.inf, high_open=True), "a non-negative number"),
                               "weight of the L1 term in the generator loss", "WEIGHT")
    label_smoothing: bool = setting(False, None, "one-sided label smoothing (real label 0.9)", BOOL_METAVAR)
    acc_thresh: float = setting(2.0, (number_in(0.0, math.inf, low_open=True, high_open=True), "a positive number"),
                                "pixel accuracy threshold (L within t, a and b within 2.2 t)", "T")
    ema_decay: float = setting(0.0, (number_in(0.0, 1.0, high_open=True), "a number in [0, 1) (0: no moving average)"),
                               "keep an exponential moving average of the generator's weights with this decay and "
                               "use it to validate, sample, colorize and export (0: off)", "DECAY")
    init_from: str | None = setting(
        None, None, "start this new run from another run's weights: RUN (its newest checkpoint) or "
        "RUN/checkpoints/ckpt-N. Its generator is loaded, and its moving average and confidence network where both "
        "runs keep one; the optimizers, step counter and learning-rate schedule start fresh. The network tables and "
        "colour space must match; the image size may differ (progressive training: 64 px, then 128). Ignored once "
        "the run has checkpoints of its own (it resumes from them)", "RUN_OR_CHECKPOINT")
    init_discriminator: bool = setting(False, None, "with --init-from, load the discriminator too (the PatchGAN "
                                       "tables must match)", BOOL_METAVAR)
    # Written by training, no flag: the networks it took from init_from (the resolved checkpoint recorded there).
    init_parts: tuple[str, ...] = setting(
        (), (lambda v: all(part in WARM_START_PARTS for part in v), "some of " + ", ".join(WARM_START_PARTS)))
    jit_compile: str = setting("auto", one_of(JIT_SETTINGS), "XLA: auto = on with a GPU, off on CPU (measured "
                               "slower there)", choices(JIT_SETTINGS))
    precision: str = setting("auto", one_of(PRECISIONS), "float32 or Keras mixed precision; auto = mixed_float16 "
                             "on GPUs that gain from it, else float32", choices(PRECISIONS))
    strategy: str = setting("auto", one_of(STRATEGIES), "tf.distribute strategy; auto = multi-worker when "
                            "TF_CONFIG names a cluster, mirrored over all GPUs when there are several, else one "
                            "device", choices(STRATEGIES))
    save: bool = setting(True, None, "save checkpoints", BOOL_METAVAR)
    save_interval: int = setting(1000, NON_NEGATIVE, "save a checkpoint every N batches", "N")
    sample: bool = setting(True, None, "save sample grids (gray | original | colorized)", BOOL_METAVAR)
    sample_size: int = setting(8, POSITIVE, "images in a sample grid", "N")
    sample_interval: int = setting(1000, NON_NEGATIVE, "write a sample grid every N batches", "N")
    validate: bool = setting(True, None, "validate at the end of epochs", BOOL_METAVAR)
    validate_interval: int = setting(1, POSITIVE, "validate every N epochs", "N")
    log: bool = setting(False, None, "also write per-epoch metrics to <run>/log.csv", BOOL_METAVAR)
    log_interval: int = setting(10, NON_NEGATIVE, "write batch scalars to TensorBoard every N batches", "N")


SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def label(path: str) -> str:
    """`train.batch_size` -> `train.batch_size (--batch-size)`: the field and the flag that sets it."""
    section, _, name = path.rpartition(".")
    fields = {f.name: f for f in dataclasses.fields(SECTIONS[section])} if section in SECTIONS else {}
    flag = rules.field_flag(name, fields.get(name))
    return f"{path} ({flag})" if flag else path


def _field_problems(section_name: str, section: Any) -> list[str]:
    problems = []
    for field in dataclasses.fields(section):
        test = field.metadata["test"]
        if test is None:
            continue
        value = getattr(section, field.name)
        try:
            valid = test(value)
        except TypeError:
            valid = False
        if not valid:
            problems.append(str(invalid(f"{section_name}.{field.name}", field.metadata["expected"], value, field)))
    return problems


def _cross_field_problems(config: RunConfig, needs_dataset: bool) -> list[str]:
    """Rules that tie fields together: sizes against the network's depth, tables against each other."""
    problems = []
    model, data = config.model, config.data
    depth = model.depth
    if len(model.generator_dropout) != depth:
        problems.append(f"{label('model.generator_dropout')}: expected one rate per decoder unit ({depth}), "
                        f"got {len(model.generator_dropout)}")
    if len(model.discriminator_strides) != len(model.discriminator_filters):
        problems.append(f"{label('model.discriminator_strides')}: expected one stride per discriminator unit "
                        f"({len(model.discriminator_filters)}), got {len(model.discriminator_strides)}")
    if is_positive_int(data.image_size) and depth > 0 and data.image_size % 2**depth:
        problems.append(f"{label('data.image_size')}: expected a multiple of 2**depth = {2**depth} "
                        f"(the generator halves the size {depth} times), got {data.image_size}")
    if data.source_balance and data.dataset != "folder":
        problems.append(f"{label('data.source_balance')}: expected --dataset folder (its file names name their "
                        f"sources), got {data.dataset}")
    if model.confidence and data.color_space != "lab":
        problems.append(f"{label('model.confidence')}: expected the lab colour space (neutral is a*b* = 0), "
                        f"got {data.color_space}")
    if config.train.init_discriminator and not config.train.init_from:
        problems.append(f"{label('train.init_discriminator')}: expected --init-from (the run to take it from), got None")
    if config.train.init_discriminator and model.model != "gan":
        problems.append(f"{label('train.init_discriminator')}: expected --model gan (a {model.model} has no "
                        f"discriminator), got true")
    if needs_dataset and data.dataset in DATASETS and data.dataset != "demo" and not data.dataset_path:
        problems.append(f"{label('data.dataset_path')}: expected the folder of the {data.dataset} dataset "
                        f"(--dataset {data.dataset} reads it from disk), got None")
    return problems


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """A whole run: data, model and training sections."""

    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()

    def validate(self, needs_dataset: bool = True) -> RunConfig:
        """Return self when every field is valid; raise `ConfigError` naming every bad field otherwise.

        `needs_dataset=False` skips the one rule that only training needs (a dataset path for datasets
        read from disk), for building a model from a preset alone."""
        problems = [problem for name in SECTIONS for problem in _field_problems(name, getattr(self, name))]
        if not problems:
            problems = _cross_field_problems(self, needs_dataset)
        if problems:
            raise ConfigError("; ".join(problems))
        return self

    def flat(self) -> dict[str, Any]:
        """`{"section.field": value}` for every field."""
        return {f"{section}.{key}": value
                for section, values in dataclasses.asdict(self).items() for key, value in values.items()}

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RunConfig:
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
            sections[name] = section_type(**coercion.coerce_section(name, section_type, given))
        return cls(**sections).validate(needs_dataset=False)

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
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
