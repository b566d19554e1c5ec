"""`tf.data` pipelines that turn a photo dataset into `(l_scaled, color_scaled)` batches.

Sources (file formats and layouts):
- `cifar10`: the official python batches (see `tfcolor.data.cifar`).
- `places365`: `data_256/**.jpg` (train) and `val_256/*.jpg` (validation), or the original code's cached
  file lists `train.flist` / `test.flist` (one path a line) when present.
- `folder`: any folder of photos, recursive (jpg, png, bmp, gif first frame, webp); a
  `train/` + `val/` pair of sub-folders is used as the split when present, else 5% is held out.
- `tfrecord`: TFRecord shards of any of these, written by `python -m tfcolor.shards` (see `tfcolor.data.shard_reader`).
- `demo`: the embedded photos of `tfcolor.data.demo`.

Bad photos are skipped and counted as `tfcolor.data.reading` reads them (`reading.PipelineStats`).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfcolor.data import cifar, color, demo, reading
from tfcolor.data.images import random_square_crop, resize_shorter_side
from tfcolor.config import DATASETS, DataConfig
from tfcolor.data.photo_files import DatasetError, folder_files, places365_files
from tfcolor.data.shard_reader import ShardedSplit, open_splits

AUTOTUNE = tf.data.AUTOTUNE


@dataclasses.dataclass
class Pipelines:
    """Training stream (endless, from any batch), validation set (one pass) and their shared counters.

    `train_from(step, worker=0)` is the stream from global step `step`. With `shards_by_file` (a
    dataset of files read by several workers) it is worker `worker`'s own stream: its share of the
    global batch, from its own slice of the files, in its own order; otherwise it is the global
    batches, for `tf.distribute` to split.
    """

    train_from: Callable[..., tf.data.Dataset]
    has_images: Callable[[], bool]
    survey: Callable[[], dict[str, int]]
    validation: tf.data.Dataset | None
    stats: reading.PipelineStats
    train_examples: int
    steps_per_epoch: int
    validation_examples: int = 0
    shards_by_file: bool = False

    @property
    def train(self) -> tf.data.Dataset:
        """The training stream from its first batch."""
        return self.train_from(0)


def crop_scale(config: DataConfig) -> tuple[float, float]:
    """The training crop's side as a fraction of a photo's shorter side, drawn per image from this range:
    `--crop-scale`, else the dataset's default (the whole square for datasets of files and arrays, as
    the original code; the demo's fixed patch scale for the embedded photos)."""
    if config.crop_scale is not None:
        return tuple(config.crop_scale)
    return demo.DEFAULT_CROP_SCALE if config.dataset == "demo" else (1.0, 1.0)


def _pipeline_crop_scale(config: DataConfig) -> tuple[float, float]:
    """The scales cut in the pipeline: the demo's patches come cut at theirs (`demo.patches`)."""
    return (1.0, 1.0) if config.dataset == "demo" else crop_scale(config)


def largest_needed_side(config: DataConfig) -> int:
    """The shorter side a training photo needs so its smallest crop still has `image_size` pixels:
    larger photos are shrunk to it once they are decoded; smaller ones are kept as they are."""
    return math.ceil(config.image_size / _pipeline_crop_scale(config)[0])


def _to_size(dataset: tf.data.Dataset, size: int) -> tf.data.Dataset:
    """Validation and evaluation: shorter side scaled to `size`, the centre `(size, size, 3)` kept."""
    dataset = dataset.map(lambda rgb: resize_shorter_side(rgb, size), num_parallel_calls=AUTOTUNE)
    return dataset.map(lambda rgb: tf.image.resize_with_crop_or_pad(rgb, size, size), num_parallel_calls=AUTOTUNE)


def _augmented(dataset: tf.data.Dataset, config: DataConfig, seed_of: Callable[[tf.Tensor], tf.Tensor]
               ) -> tf.data.Dataset:
    """Training: a square at a random place and scale (`crop_scale`) scaled to `image_size`, flipped at
    random with `--augment`. `seed_of(position)` gives each image its stateless seed pair."""
    size, scale = config.image_size, _pipeline_crop_scale(config)

    def augment(rgb, position):
        pair = seed_of(position)
        rgb = random_square_crop(rgb, size, scale, pair)
        if config.augment:
            rgb = tf.image.stateless_random_flip_left_right(rgb, seed=pair[::-1])
        return rgb

    positions = tf.data.Dataset.range(2**62)
    return tf.data.Dataset.zip(dataset, positions).map(augment, num_parallel_calls=AUTOTUNE)


def _without_autotuning(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """tf.data's autotuning thread sleeps for a period that doubles (up to a minute) and is not woken
    when an iterator is deleted, so every `fit` and every validation pass waited for it at its end
    (a 3-batch fit took 5.1 s instead of 3.3). Off, AUTOTUNE parallelism means one call per core:
    the same images/s on the benchmark's photos (benchmarks/RESULTS.md)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _as_model_batches(images: tf.data.Dataset, config: DataConfig) -> tf.data.Dataset:
    """Batches of float RGB -> `(l_scaled, color_scaled)`: Lab on whole batches, one vectorised op per batch."""
    batches = images.map(lambda rgb: color.encode(rgb, config.color_space), num_parallel_calls=AUTOTUNE)
    return _without_autotuning(batches.prefetch(AUTOTUNE))


def _sources(config: DataConfig, seed: int, skipped: dict[str, str]
             ) -> tuple[list[str] | np.ndarray | ShardedSplit, list[str] | np.ndarray | ShardedSplit]:
    """(train, validation) sources; files left out while listing go into `skipped` (name -> reason)."""
    if config.dataset not in DATASETS:
        raise DatasetError(f"Unknown dataset {config.dataset!r}; expected one of {DATASETS}.")
    if config.dataset == "demo":
        return demo.patches(config.image_size, config.demo_patches, seed, crop_scale(config))
    if not config.dataset_path:
        raise DatasetError(f"--dataset {config.dataset} needs --dataset-path.")
    if not Path(config.dataset_path).exists():
        raise DatasetError(f"--dataset-path {config.dataset_path} does not exist.")
    if config.dataset == "tfrecord":
        return open_splits(config.dataset_path)
    if config.dataset == "cifar10":
        try:
            return cifar.load_split(config.dataset_path, True), cifar.load_split(config.dataset_path, False)
        except FileNotFoundError as error:
            raise DatasetError(str(error)) from None
    if config.dataset == "places365":
        return (places365_files(config.dataset_path, True, skipped),
                places365_files(config.dataset_path, False, skipped))
    return folder_files(config.dataset_path, skipped)


def evaluation_set(config: DataConfig, batch_size: int, limit: int | None = None) -> tuple[tf.data.Dataset, reading.PipelineStats]:
    """Held-out photos as float RGB batches `(batch, size, size, 3)` in a fixed order, and their counters.

    The validation split of cifar10/places365/demo; every photo of a `folder` dataset (a folder
    given for evaluation is the evaluation set). `limit` caps the number of images.

    Raises:
        DatasetError: as `make_pipelines`, or when there is nothing to evaluate on.
    """
    unlisted: dict[str, str] = {}
    train_source, validation_source = _sources(config, 0, unlisted)
    source = list(train_source) + list(validation_source) if config.dataset == "folder" else validation_source
    if not len(source):
        raise DatasetError(f"{config.dataset} at {config.dataset_path}: no images to evaluate on.")
    stats = reading.PipelineStats(unlisted)
    dataset = _to_size(reading.source_images(source, stats, config.image_size, config.max_pixels), config.image_size)
    if limit:
        dataset = dataset.take(limit)
    return _without_autotuning(dataset.batch(batch_size).prefetch(AUTOTUNE)), stats


def _pass_seed(seed: int, epoch: tf.Tensor, rank: tf.Tensor) -> tf.Tensor:
    """The stateless seed pair of one pass over a source: (seed, epoch, rank of the pass within the epoch)."""
    return tf.stack([tf.constant(seed, tf.int64), epoch * 2**20 + rank])


def _shuffled(count: int, seed: int, epoch: tf.Tensor, rank: tf.Tensor) -> tf.data.Dataset:
    """Indices 0..count-1 in an order drawn from (seed, epoch, rank of the pass within the epoch) alone."""
    return tf.data.Dataset.from_tensor_slices(tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64),
                                                                                       _pass_seed(seed, epoch, rank)))


def _working_images(source: list[str] | np.ndarray, stats: reading.PipelineStats, config: DataConfig
                    ) -> tuple[int, Callable[[tf.data.Dataset], tf.data.Dataset]]:
    """(how many, indices -> usable images at the size their crops need). With `--cache` every usable
    image is decoded once, here, and kept in memory; without, each index is read when its turn comes."""
    side = largest_needed_side(config)

    def resized(images: tf.data.Dataset) -> tf.data.Dataset:
        return images.map(lambda rgb: resize_shorter_side(rgb, side, enlarge=False), num_parallel_calls=AUTOTUNE)

    if not config.cache:
        read = reading.reader(source, stats, side, config.max_pixels)
        skip = reading.skips_unreadable(source)
        return len(source), lambda indices: resized(
            reading.without_grayscale(reading.read_counted(indices, read, stats, None, skip), stats))
    cached = [image.numpy() for image in resized(reading.source_images(source, stats, side, config.max_pixels))]
    read = _reader_of_cached(cached)
    return len(cached), lambda indices: indices.map(read, num_parallel_calls=AUTOTUNE)


def _reader_of_cached(cached: list[np.ndarray]) -> Callable[[tf.Tensor], tf.Tensor]:
    """index -> one of the cached images, kept as one flat array with each image's offset and shape."""
    sizes = np.array([image.size for image in cached], np.int64)
    flat = tf.constant(np.concatenate([image.ravel() for image in cached]) if cached else np.zeros(0, np.float32))
    offsets = tf.constant(np.cumsum(sizes) - sizes)
    shapes = tf.constant(np.array([image.shape for image in cached], np.int64).reshape(-1, 3))

    def read(index):
        shape = tf.gather(shapes, index)
        start = tf.gather(offsets, index)
        return tf.reshape(flat[start : start + tf.reduce_prod(shape)], shape)

    return read


def training_batches(source: list[str] | np.ndarray, stats: reading.PipelineStats, config: DataConfig, batch_size: int,
                     seed: int, start_batch: int = 0, working: tuple | None = None, steps: int | None = None
                     ) -> tf.data.Dataset:
    """The endless, shuffled and augmented `(l_scaled, color_scaled)` batches of a source (file paths,
    uint8 images `(N, H, W, 3)` or a sharded split), from batch `start_batch` on.

    Batch k is the same whichever batch the stream starts at, so a resumed run trains on what an
    uninterrupted one would: epoch e (`N // batch_size` batches) reads the source in orders drawn from
    (seed, e) alone, in as many passes as skipped images make it need, and each image's crop and flip
    come from (seed, e, its place in the epoch). `working` is `_working_images`' answer when the
    caller keeps it (a cache is then decoded once for all the streams it starts). `steps` overrides the
    batches of an epoch (the workers of a cluster, each on its slice of the files, must agree on it).
    """
    steps = steps or len(source) // batch_size
    first_epoch, skip = divmod(start_batch, steps)
    count, images_of = working or _working_images(source, stats, config)
    one_pass = functools.partial(_shuffled, count, seed)
    if isinstance(source, ShardedSplit) and not config.cache:  # a cache is indexed like an array
        one_pass = lambda epoch, rank: source.shuffled(_pass_seed(seed, epoch, rank))  # noqa: E731

    def epoch(index):
        indices = tf.data.Dataset.range(steps * batch_size).flat_map(lambda rank: one_pass(index, rank))
        crop_seed = lambda position: tf.stack([tf.constant(seed + 1, tf.int64), index * 2**32 + position])  # noqa: E731
        images = _augmented(images_of(indices), config, crop_seed)
        return images.batch(batch_size, drop_remainder=True).take(steps)

    batches = tf.data.Dataset.range(first_epoch, 2**40).flat_map(epoch).skip(skip)
    return _as_model_batches(batches, config)


# Workers' seeds lie this far apart, so their orders and crops never coincide.
WORKER_SEED_STRIDE = 1_000_003


def make_pipelines(config: DataConfig, batch_size: int, seed: int, validate: bool = True, workers: int = 1
                   ) -> Pipelines:
    """The training stream and validation set a data config describes.

    The training stream is endless (an epoch is `steps_per_epoch` batches) and can start at any batch
    (`Pipelines.train_from`); the validation set is one pass in a fixed order, or None when `validate`
    is off or the dataset has none. With several `workers` (a multi-worker cluster), a dataset of files
    is shared out by file: each worker reads its own slice with `batch_size / workers` a batch; arrays
    stay whole (tf.distribute shares out each global batch).

    Raises:
        DatasetError: unknown dataset, missing path, or fewer training images than one batch.
    """
    color.check_color_space(config.color_space)
    unlisted: dict[str, str] = {}
    train_source, validation_source = _sources(config, seed, unlisted)
    if len(train_source) < batch_size:
        raise DatasetError(
            f"{config.dataset} at {config.dataset_path}: {len(train_source)} training images, "
            f"fewer than one batch of {batch_size}."
        )
    stats = reading.PipelineStats(unlisted)
    validation = None
    if validate and len(validation_source):
        images = _to_size(reading.source_images(validation_source, stats, config.image_size, config.max_pixels), config.image_size)
        validation = _as_model_batches(images.batch(batch_size), config)
    by_file = workers > 1 and not isinstance(train_source, np.ndarray)
    part = functools.cache(lambda worker: reading.worker_slice(train_source, worker, workers) if by_file else train_source)
    working = functools.cache(lambda worker: _working_images(part(worker), stats, config))
    steps_per_epoch = len(train_source) // batch_size

    def train_from(start: int, worker: int = 0) -> tf.data.Dataset:
        if not by_file:
            return training_batches(train_source, stats, config, batch_size, seed, start, working(0))
        return training_batches(part(worker), stats, config, batch_size // workers, seed + worker * WORKER_SEED_STRIDE,
                                start, working(worker), steps=steps_per_epoch)

    return Pipelines(
        train_from=train_from,
        has_images=lambda: any(True for _ in reading.source_images(train_source, stats, largest_needed_side(config),
                                                                   config.max_pixels).take(1)),
        survey=lambda: reading.survey(train_source, largest_needed_side(config), config.max_pixels),
        validation=validation, stats=stats, train_examples=len(train_source), steps_per_epoch=steps_per_epoch,
        validation_examples=len(validation_source), shards_by_file=by_file,
    )
