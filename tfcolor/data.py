"""`tf.data` pipelines that turn a photo dataset into `(l_scaled, color_scaled)` batches.

Sources (file formats and layouts):
- `cifar10`: the official python batches (see `tfcolor.cifar`).
- `places365`: `data_256/**.jpg` (train) and `val_256/*.jpg` (validation), or the original code's cached
  file lists `train.flist` / `test.flist` (one path a line) when present.
- `folder`: any folder of photos, recursive (jpg, png, bmp, gif first frame, webp); a
  `train/` + `val/` pair of sub-folders is used as the split when present, else 5% is held out.
- `demo`: the embedded photos of `tfcolor.demo_data`.

Grayscale images (all three channels equal) are skipped, as the original code does; corrupt or unreadable
files are skipped too. Both are counted in `PipelineStats`, which training reports every epoch.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfcolor import cifar, color, demo_data
from tfcolor.images import decode_rgb, is_grayscale, random_square_crop, resize_shorter_side
from tfcolor.config import DATASETS, DataConfig

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
FOLDER_VALIDATION_FRACTION = 0.05
AUTOTUNE = tf.data.AUTOTUNE


class DatasetError(ValueError):
    """The dataset flags point at something that is not a usable dataset."""


class PipelineStats:
    """Counters the pipelines update as they run: files read, corrupt files and grayscale images skipped."""

    def __init__(self):
        self.files = tf.Variable(0, dtype=tf.int64, trainable=False, name="files")
        self.decoded = tf.Variable(0, dtype=tf.int64, trainable=False, name="decoded")
        self.grayscale = tf.Variable(0, dtype=tf.int64, trainable=False, name="grayscale")

    def as_dict(self) -> dict[str, int]:
        files, decoded = int(self.files.numpy()), int(self.decoded.numpy())
        return {"files": files, "corrupt": files - decoded, "grayscale": int(self.grayscale.numpy())}


@dataclasses.dataclass
class Pipelines:
    """Training stream (repeats forever), validation set (one pass) and their shared counters."""

    train: tf.data.Dataset
    validation: tf.data.Dataset | None
    stats: PipelineStats
    train_examples: int
    steps_per_epoch: int


def find_images(root: str | Path) -> list[str]:
    """Image files under `root`, recursive, sorted (case-insensitive extensions)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder of images.")
    return sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _read_file_list(path: Path, root: Path) -> list[str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [line if Path(line).is_absolute() else str(root / line) for line in lines]


def places365_files(root: str | Path, train: bool) -> list[str]:
    """Places365 file list: `train.flist`/`test.flist` when present, else `data_256/**` / `val_256/*`."""
    root = Path(root)
    file_list = root / ("train.flist" if train else "test.flist")
    if file_list.is_file():
        return _read_file_list(file_list, root)
    folder = root / ("data_256" if train else "val_256")
    if not folder.is_dir():
        raise DatasetError(f"Places365 folder {folder} not found (expected data_256/ and val_256/ under {root}).")
    return find_images(folder)


def folder_files(root: str | Path) -> tuple[list[str], list[str]]:
    """(train, validation) files of a photo folder: its `train/` and `val/` when present, else a 5% hold-out."""
    root = Path(root)
    if (root / "train").is_dir() and (root / "val").is_dir():
        return find_images(root / "train"), find_images(root / "val")
    files = find_images(root)
    held_out = max(1, int(len(files) * FOLDER_VALIDATION_FRACTION)) if len(files) > 1 else 0
    # Every k-th file is held out, so the split is stable and spread over the whole folder.
    step = max(1, len(files) // held_out) if held_out else len(files) + 1
    validation = files[::step][:held_out]
    validation_set = set(validation)
    return [f for f in files if f not in validation_set], validation


def _decoded_files(paths: list[str], stats: PipelineStats, seed: int | None, min_side: int | None) -> tf.data.Dataset:
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant(paths, tf.string))
    if seed is not None:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)

    def read(path):
        stats.files.assign_add(1)
        return decode_rgb(tf.io.read_file(path), min_side)

    def counted(rgb):
        stats.decoded.assign_add(1)
        return rgb

    return dataset.map(read, num_parallel_calls=AUTOTUNE).ignore_errors().map(counted)


def _array_images(images: np.ndarray, stats: PipelineStats, seed: int | None) -> tf.data.Dataset:
    dataset = tf.data.Dataset.from_tensor_slices(images)
    if seed is not None:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)

    def counted(rgb_uint8):
        stats.files.assign_add(1)
        stats.decoded.assign_add(1)
        return color.to_float_rgb(rgb_uint8)

    return dataset.map(counted, num_parallel_calls=AUTOTUNE)


def _skip_grayscale(dataset: tf.data.Dataset, stats: PipelineStats) -> tf.data.Dataset:
    def keep(rgb):
        gray = is_grayscale(rgb)
        stats.grayscale.assign_add(tf.cast(gray, tf.int64))
        return tf.logical_not(gray)

    return dataset.filter(keep)


def crop_scale(config: DataConfig) -> tuple[float, float]:
    """The training crop's side as a fraction of a photo's shorter side, drawn per image from this range:
    `--crop-scale`, else the dataset's default (the whole square for datasets of files and arrays, as
    the original code; the demo's fixed patch scale for the embedded photos)."""
    if config.crop_scale is not None:
        return tuple(config.crop_scale)
    return demo_data.DEFAULT_CROP_SCALE if config.dataset == "demo" else (1.0, 1.0)


def _pipeline_crop_scale(config: DataConfig) -> tuple[float, float]:
    """The scales cut in the pipeline: the demo's patches come cut at theirs (`demo_data.patches`)."""
    return (1.0, 1.0) if config.dataset == "demo" else crop_scale(config)


def largest_needed_side(config: DataConfig) -> int:
    """The shorter side a training photo needs so its smallest crop still has `image_size` pixels."""
    return math.ceil(config.image_size / _pipeline_crop_scale(config)[0])


def _fit_to_size(dataset: tf.data.Dataset, config: DataConfig, seed: int | None, training: bool) -> tf.data.Dataset:
    """Float RGB images -> `(size, size, 3)`.

    Training: the photo is scaled down to the largest size its crops need (and cached there with
    `--cache`), then a random square at a random scale (`crop_scale`) is cut and scaled to `size`,
    and flipped at random with `--augment`. Validation: shorter side scaled to `size`, centre crop.
    """
    size = config.image_size
    working_side = largest_needed_side(config) if training else size
    dataset = dataset.map(lambda rgb: resize_shorter_side(rgb, working_side), num_parallel_calls=AUTOTUNE)
    if config.cache:
        dataset = dataset.cache()
    if training:
        # One stateless seed pair per image: crops and flips are reproducible from --seed.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        dataset = tf.data.Dataset.zip(dataset, seeds)
        scale = _pipeline_crop_scale(config)

        def augment(rgb, pair):
            rgb = random_square_crop(rgb, size, scale, pair)
            if config.augment:
                rgb = tf.image.stateless_random_flip_left_right(rgb, seed=pair[::-1])
            return rgb

        dataset = dataset.map(augment, num_parallel_calls=AUTOTUNE)
    else:
        dataset = dataset.map(
            lambda rgb: tf.image.resize_with_crop_or_pad(rgb, size, size), num_parallel_calls=AUTOTUNE
        )
    return dataset


def _without_autotuning(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """tf.data's autotuning thread sleeps for a period that doubles (up to a minute) and is not woken
    when an iterator is deleted, so every `fit` and every validation pass waited for it at its end
    (a 3-batch fit took 5.1 s instead of 3.3). Off, AUTOTUNE parallelism means one call per core:
    the same images/s on the benchmark's photos (benchmarks/RESULTS.md)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _to_model_batches(
    dataset: tf.data.Dataset, config: DataConfig, batch_size: int, seed: int | None, training: bool
) -> tf.data.Dataset:
    dataset = _fit_to_size(dataset, config, seed, training).batch(batch_size, drop_remainder=training)
    # Lab conversion on whole batches: one vectorised op per batch, not one small op per image.
    dataset = dataset.map(lambda rgb: color.encode(rgb, config.color_space), num_parallel_calls=AUTOTUNE)
    return _without_autotuning(dataset.prefetch(AUTOTUNE))


def _sources(config: DataConfig, seed: int) -> tuple[list[str] | np.ndarray, list[str] | np.ndarray]:
    if config.dataset not in DATASETS:
        raise DatasetError(f"Unknown dataset {config.dataset!r}; expected one of {DATASETS}.")
    if config.dataset == "demo":
        return demo_data.patches(config.image_size, config.demo_patches, seed, crop_scale(config))
    if not config.dataset_path:
        raise DatasetError(f"--dataset {config.dataset} needs --dataset-path.")
    if not Path(config.dataset_path).exists():
        raise DatasetError(f"--dataset-path {config.dataset_path} does not exist.")
    if config.dataset == "cifar10":
        try:
            return cifar.load_split(config.dataset_path, True), cifar.load_split(config.dataset_path, False)
        except FileNotFoundError as error:
            raise DatasetError(str(error)) from None
    if config.dataset == "places365":
        return places365_files(config.dataset_path, True), places365_files(config.dataset_path, False)
    return folder_files(config.dataset_path)


def _images(source: list[str] | np.ndarray, stats: PipelineStats, shuffle_seed: int | None,
            min_side: int) -> tf.data.Dataset:
    """Float RGB images of a source, grayscale ones skipped; files decoded no larger than `min_side` needs."""
    if isinstance(source, np.ndarray):
        return _skip_grayscale(_array_images(source, stats, shuffle_seed), stats)
    return _skip_grayscale(_decoded_files(source, stats, shuffle_seed, min_side), stats)


def evaluation_set(config: DataConfig, batch_size: int, limit: int | None = None) -> tuple[tf.data.Dataset, PipelineStats]:
    """Held-out photos as float RGB batches `(batch, size, size, 3)` in a fixed order, and their counters.

    The validation split of cifar10/places365/demo; every photo of a `folder` dataset (a folder
    given for evaluation is the evaluation set). `limit` caps the number of images.

    Raises:
        DatasetError: as `make_pipelines`, or when there is nothing to evaluate on.
    """
    train_source, validation_source = _sources(config, seed=0)
    source = list(train_source) + list(validation_source) if config.dataset == "folder" else validation_source
    if not len(source):
        raise DatasetError(f"{config.dataset} at {config.dataset_path}: no images to evaluate on.")
    stats = PipelineStats()
    dataset = _fit_to_size(_images(source, stats, None, config.image_size), config, None, training=False)
    if limit:
        dataset = dataset.take(limit)
    return _without_autotuning(dataset.batch(batch_size).prefetch(AUTOTUNE)), stats


def training_batches(source: list[str] | np.ndarray, stats: PipelineStats, config: DataConfig, batch_size: int,
                     seed: int) -> tf.data.Dataset:
    """The endless, shuffled and augmented `(l_scaled, color_scaled)` batches of a source (file paths or
    uint8 images `(N, H, W, 3)`)."""
    images = _images(source, stats, seed, largest_needed_side(config))
    return _to_model_batches(images, config, batch_size, seed, training=True).repeat()


def make_pipelines(config: DataConfig, batch_size: int, seed: int, validate: bool = True) -> Pipelines:
    """The training stream and validation set a data config describes.

    The training stream repeats forever (an epoch is `steps_per_epoch` batches); the validation
    set is one pass in a fixed order, or None when `validate` is off or the dataset has none.

    Raises:
        DatasetError: unknown dataset, missing path, or fewer training images than one batch.
    """
    color.check_color_space(config.color_space)
    train_source, validation_source = _sources(config, seed)
    if len(train_source) < batch_size:
        raise DatasetError(
            f"{config.dataset} at {config.dataset_path}: {len(train_source)} training images, "
            f"fewer than one batch of {batch_size}."
        )
    stats = PipelineStats()
    train = training_batches(train_source, stats, config, batch_size, seed)
    validation = None
    if validate and len(validation_source):
        validation_images = _images(validation_source, stats, None, config.image_size)
        validation = _to_model_batches(validation_images, config, batch_size, None, training=False)
    return Pipelines(train, validation, stats, len(train_source), len(train_source) // batch_size)
