"""`tf.data` pipelines that turn a dataset's sources into `(l_scaled, color_scaled)` batches.

The dataset's splits come from `tfcolor.data.datasets` as `Source`s (files, arrays or shards, one
protocol); bad photos are skipped and counted as `tfcolor.data.reading` reads them. The training
stream can start at any batch and reads what an uninterrupted run would; validation and evaluation
sets are one pass in a fixed order.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfcolor.config import DataConfig
from tfcolor.data import color, datasets, photo_files, reading
from tfcolor.data.images import random_square_crop, resize_shorter_side
from tfcolor.data.lightness import augment_lightness
from tfcolor.data.skips import DatasetError, PipelineStats
from tfcolor.data.sources import PhotoFiles, Source, balanced_indices, shuffled_indices

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
    stats: PipelineStats
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
    `--crop-scale`, else the whole square, as the original code. Datasets whose elements come cut at
    their own scale (the demo's patches) are not cut again: the whole square of each."""
    if config.crop_scale is not None and config.dataset not in datasets.PRE_CUT:
        return tuple(config.crop_scale)
    return (1.0, 1.0)


def largest_needed_side(config: DataConfig) -> int:
    """The shorter side a training photo needs so its smallest crop still has `image_size` pixels:
    larger photos are shrunk to it once they are decoded; smaller ones are kept as they are."""
    return math.ceil(config.image_size / crop_scale(config)[0])


def _to_size(dataset: tf.data.Dataset, size: int) -> tf.data.Dataset:
    """Validation and evaluation: shorter side scaled to `size`, the centre `(size, size, 3)` kept."""
    dataset = dataset.map(lambda rgb: resize_shorter_side(rgb, size), num_parallel_calls=AUTOTUNE)
    return dataset.map(lambda rgb: tf.image.resize_with_crop_or_pad(rgb, size, size), num_parallel_calls=AUTOTUNE)


def _augmented(dataset: tf.data.Dataset, config: DataConfig, seed_of: Callable[[tf.Tensor], tf.Tensor]
               ) -> tf.data.Dataset:
    """Training: a square at a random place and scale (`crop_scale`) scaled to `image_size`, flipped at
    random with `--augment`. `seed_of(position)` gives each image its stateless seed pair."""
    size, scale = config.image_size, crop_scale(config)

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


def _as_model_batches(images: tf.data.Dataset, config: DataConfig, lightness_seed: int | None = None,
                      first_batch: int = 0) -> tf.data.Dataset:
    """Batches of float RGB -> `(l_scaled, color_scaled)`: Lab on whole batches, one vectorised op per batch.
    With `lightness_seed` (training with `--augment-lightness`), batch k's lightness is augmented from the
    seed pair (lightness_seed, k), k counted from `first_batch`, the stream's first global batch."""
    batches = images.map(lambda rgb: color.encode(rgb, config.color_space), num_parallel_calls=AUTOTUNE)
    if lightness_seed is not None:
        def augment(pair, index):
            l_scaled, color_scaled = pair
            return augment_lightness(l_scaled, tf.stack([tf.constant(lightness_seed, tf.int64), index])), color_scaled

        numbers = tf.data.Dataset.range(first_batch, 2**62)
        batches = tf.data.Dataset.zip(batches, numbers).map(augment, num_parallel_calls=AUTOTUNE)
    return _without_autotuning(batches.prefetch(AUTOTUNE))


def evaluation_set(config: DataConfig, batch_size: int, limit: int | None = None) -> tuple[tf.data.Dataset, PipelineStats]:
    """Held-out photos as float RGB batches `(batch, size, size, 3)` in a fixed order, and their counters.

    The validation split of cifar10/places365/demo; every photo of a `folder` dataset (a folder
    given for evaluation is the evaluation set). `limit` caps the number of images.

    Raises:
        DatasetError: as `make_pipelines`, or when there is nothing to evaluate on.
    """
    unlisted: dict[str, str] = {}
    source = datasets.evaluation_split(config, unlisted)
    if not len(source):
        raise DatasetError(f"{config.dataset} at {config.dataset_path}: no images to evaluate on.")
    stats = PipelineStats(unlisted)
    dataset = _to_size(reading.source_images(source, stats, config.image_size, config.max_pixels), config.image_size)
    if limit:
        dataset = dataset.take(limit)
    return _without_autotuning(dataset.batch(batch_size).prefetch(AUTOTUNE)), stats


def _pass_seed(seed: int, epoch: tf.Tensor, rank: tf.Tensor) -> tf.Tensor:
    """The stateless seed pair of one pass over a source: (seed, epoch, rank of the pass within the epoch)."""
    return tf.stack([tf.constant(seed, tf.int64), epoch * 2**20 + rank])


@dataclasses.dataclass(frozen=True)
class _WorkingImages:
    """What a training stream draws from: the keys of one pass in an order drawn from a seed pair, and
    keys -> usable images at the size their crops need."""

    keys_of_pass: Callable[[tf.Tensor], tf.data.Dataset]
    images_of: Callable[[tf.data.Dataset], tf.data.Dataset]


def _working_images(source: Source, stats: PipelineStats, config: DataConfig) -> _WorkingImages:
    """The source's images as training reads them. With `--cache` every usable image is decoded once,
    here, and kept in memory (then indexed like an array); without, each key is read when its turn comes.
    With `--source-balance` the photos are regrouped by source, and each pass draws a source of n photos
    in proportion to n**(1 - power) (`sources.balanced_indices`)."""
    side = largest_needed_side(config)
    parts = _by_source(source) if config.source_balance else [source]

    def resized(images: tf.data.Dataset) -> tf.data.Dataset:
        return images.map(lambda rgb: resize_shorter_side(rgb, side, enlarge=False), num_parallel_calls=AUTOTUNE)

    def keys_of_pass(groups: np.ndarray, unbalanced: Callable[[tf.Tensor], tf.data.Dataset]
                     ) -> Callable[[tf.Tensor], tf.data.Dataset]:
        if config.source_balance:
            return functools.partial(balanced_indices, groups, config.source_balance)
        return unbalanced

    if not config.cache:
        whole = source if len(parts) == 1 else PhotoFiles([path for part in parts for path in part.paths])
        groups = np.repeat(np.arange(len(parts)), [len(part) for part in parts])
        read = whole.reader(stats, side, config.max_pixels)
        return _WorkingImages(keys_of_pass(groups, whole.shuffled), lambda keys: resized(reading.without_grayscale(
            reading.read_counted(keys, read, stats, None, whole.skips_unreadable), stats)))
    cached_parts = [[image.numpy() for image in resized(reading.source_images(part, stats, side, config.max_pixels))]
                    for part in parts]
    cached = [image for part in cached_parts for image in part]
    groups = np.repeat(np.arange(len(parts)), [len(part) for part in cached_parts])
    read = _reader_of_cached(cached)
    return _WorkingImages(keys_of_pass(groups, functools.partial(shuffled_indices, len(cached))),
                          lambda indices: indices.map(read, num_parallel_calls=AUTOTUNE))


def _by_source(source: Source) -> list[PhotoFiles]:
    """A folder's photos split by the source their file names name (`photo_files.source_of`)."""
    if not isinstance(source, PhotoFiles):
        raise DatasetError("--source-balance needs a folder of photo files (their name prefixes name their sources)")
    return list(source.by_group(photo_files.source_of).values())


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


def training_batches(source: Source, stats: PipelineStats, config: DataConfig, batch_size: int, seed: int,
                     start_batch: int = 0, working: _WorkingImages | None = None, steps: int | None = None
                     ) -> tf.data.Dataset:
    """The endless, shuffled and augmented `(l_scaled, color_scaled)` batches of a source, from batch
    `start_batch` on.

    Batch k is the same whichever batch the stream starts at, so a resumed run trains on what an
    uninterrupted one would: epoch e (`N // batch_size` batches) reads the source in orders drawn from
    (seed, e) alone, in as many passes as skipped images make it need, and each image's crop and flip
    come from (seed, e, its place in the epoch). `working` is `_working_images`' answer when the
    caller keeps it (a cache is then decoded once for all the streams it starts). `steps` overrides the
    batches of an epoch (the workers of a cluster, each on its slice of the files, must agree on it).
    """
    steps = steps or len(source) // batch_size
    first_epoch, skip = divmod(start_batch, steps)
    working = working or _working_images(source, stats, config)

    def epoch(index):
        indices = tf.data.Dataset.range(steps * batch_size).flat_map(
            lambda rank: working.keys_of_pass(_pass_seed(seed, index, rank)))
        crop_seed = lambda position: tf.stack([tf.constant(seed + 1, tf.int64), index * 2**32 + position])  # noqa: E731
        images = _augmented(working.images_of(indices), config, crop_seed)
        return images.batch(batch_size, drop_remainder=True).take(steps)

    batches = tf.data.Dataset.range(first_epoch, 2**40).flat_map(epoch).skip(skip)
    return _as_model_batches(batches, config, seed + 2 if config.augment_lightness else None, start_batch)


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
    train_source, validation_source = datasets.open_splits(config, seed, unlisted)
    if config.validation_path:
        validation_source = datasets.validation_folder(config.validation_path, unlisted)
    if len(train_source) < batch_size:
        raise DatasetError(
            f"{config.dataset} at {config.dataset_path}: {len(train_source)} training images, "
            f"fewer than one batch of {batch_size}."
        )
    stats = PipelineStats(unlisted)
    validation = None
    if validate and len(validation_source):
        images = reading.source_images(validation_source, stats, config.image_size, config.max_pixels)
        images = _to_size(images, config.image_size)
        validation = _as_model_batches(images.batch(batch_size), config)
    by_file = workers > 1 and train_source.shared_by_element
    part = functools.cache(lambda worker: train_source.worker_part(worker, workers) if by_file else train_source)
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
