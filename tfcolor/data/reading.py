"""Reading a source's photos: one element (a file, a row of an array, a shard's record) to float RGB,
and the bad ones skipped and counted exactly where they are skipped; and, for Python code going file
by file (colorize, shards), one photo file with the reason it cannot be used (`read_photo`).

Corrupt or unreadable files, photos over the pixel limit (known from the header, never decoded) and
grayscale photos (all three channels equal, skipped as the original code does) are counted in
`PipelineStats`, which training reports every epoch and evaluation in its results.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfcolor.data import color
from tfcolor.data.images import decode_rgb, encoded_size, is_grayscale, over_pixel_limit
from tfcolor.data.photo_files import DatasetError
from tfcolor.data.shard_reader import ShardedSplit

AUTOTUNE = tf.data.AUTOTUNE


class PipelineStats:
    """Counters the pipelines update where they skip an image: files read, and images skipped because
    they were corrupt or unreadable, over the pixel limit, or grayscale."""

    COUNTERS = ("files", "corrupt", "oversized", "grayscale")

    def __init__(self, unlisted: dict[str, str] | None = None):
        for name in self.COUNTERS:
            setattr(self, name, tf.Variable(0, dtype=tf.int64, trainable=False, name=name))
        self.unlisted = unlisted or {}  # files left out while listing the dataset: name -> reason

    def as_dict(self) -> dict[str, int]:
        return {name: int(getattr(self, name).numpy()) for name in self.COUNTERS}


def describe_skipped(counts: dict[str, int]) -> str:
    """`{"corrupt": 2, "grayscale": 1, ...}` -> "2 corrupt/unreadable, 1 grayscale" ("" when none)."""
    labels = {"corrupt": "corrupt/unreadable", "oversized": "over the pixel limit", "grayscale": "grayscale"}
    return ", ".join(f"{counts[name]} {label}" for name, label in labels.items() if counts.get(name))


def decode_within_limit(contents: tf.Tensor, min_side: int | None, max_pixels: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Encoded photo -> (float RGB `(H, W, 3)` no larger than `min_side` needs, over `max_pixels`?); a photo
    over the limit is not decoded at all (a 1x1 placeholder stands in). Raises on undecodable bytes."""
    size = encoded_size(contents)
    oversized = size[0] * size[1] > max_pixels
    rgb = tf.cond(oversized, lambda: tf.zeros([1, 1, 3]), lambda: decode_rgb(contents, min_side))
    return rgb, oversized


def reader(source: list[str] | np.ndarray | ShardedSplit, stats: PipelineStats, min_side: int, max_pixels: int
            ) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """index -> (float RGB, over the pixel limit?) of one element of a source: a file read and decoded
    (`decode_within_limit`), or a row of a uint8 array. A sharded source's keys are its photos' encoded
    bytes instead of indices. Raises on an unreadable or undecodable file."""
    if isinstance(source, ShardedSplit):
        def decode(contents):
            stats.files.assign_add(1)
            return decode_within_limit(contents, min_side, max_pixels)

        return decode
    if isinstance(source, np.ndarray):
        images = tf.constant(source)

        def read(index):
            stats.files.assign_add(1)
            return color.to_float_rgb(tf.gather(images, index)), tf.constant(False)

        return read
    # Paths travel as bytes: a name that is not UTF-8 (listing skips those) cannot break the graph.
    paths = tf.constant([os.fsencode(path) for path in source], tf.string)

    def read(index):
        stats.files.assign_add(1)
        return decode_within_limit(tf.io.read_file(tf.gather(paths, index)), min_side, max_pixels)

    return read


def read_counted(indices: tf.data.Dataset, read: Callable, stats: PipelineStats, length: int | None = None,
             skip_unreadable: bool = True) -> tf.data.Dataset:
    """The elements `indices` name, read in that order; unreadable and oversized files are skipped and counted.

    A failed read is dropped by `ignore_errors`; the stream counts it when the next good read shows a
    gap in the positions, so reads still in flight never count. A finite stream of `length` indices
    ends with a sentinel at position `length`, so failures at its very end are counted too. Without
    `skip_unreadable` a failure raises (`ignore_errors` would also swallow the errors of the stream
    of indices: a damaged shard's)."""
    reads = indices.enumerate().map(lambda position, index: (position, *read(index), True),
                                    num_parallel_calls=AUTOTUNE)
    reads = reads.ignore_errors() if skip_unreadable else reads
    if length is not None:
        sentinel = (tf.constant(length, tf.int64), tf.zeros([1, 1, 3]), tf.constant(False), tf.constant(False))
        reads = reads.concatenate(tf.data.Dataset.from_tensors(sentinel))

    def count_gap(last_position, element):
        position, rgb, oversized, real = element
        stats.corrupt.assign_add(position - last_position - 1)
        stats.oversized.assign_add(tf.cast(oversized, tf.int64))
        return position, (rgb, real & tf.logical_not(oversized))

    counted = reads.scan(tf.constant(-1, tf.int64), count_gap)
    return counted.filter(_is_usable).map(_image)


def _is_usable(rgb: tf.Tensor, usable: tf.Tensor) -> tf.Tensor:
    return usable


def _image(rgb: tf.Tensor, usable: tf.Tensor) -> tf.Tensor:
    return rgb


def without_grayscale(dataset: tf.data.Dataset, stats: PipelineStats) -> tf.data.Dataset:
    def keep(rgb):
        gray = is_grayscale(rgb)
        stats.grayscale.assign_add(tf.cast(gray, tf.int64))
        return tf.logical_not(gray)

    return dataset.filter(keep)


def skips_unreadable(source: list[str] | np.ndarray | ShardedSplit) -> bool:
    """Files that cannot be read or decoded are skipped and counted. Shards hold only photos that decoded
    when they were written, so a failure there is a damaged shard: it raises, naming the shard."""
    return not isinstance(source, ShardedSplit)


def source_images(source: list[str] | np.ndarray | ShardedSplit, stats: PipelineStats, min_side: int, max_pixels: int
            ) -> tf.data.Dataset:
    """A source's float RGB images in their order, unreadable, oversized and grayscale ones skipped."""
    read = reader(source, stats, min_side, max_pixels)
    keys = source.in_order() if isinstance(source, ShardedSplit) else tf.data.Dataset.range(len(source))
    return without_grayscale(read_counted(keys, read, stats, len(source), skips_unreadable(source)), stats)


def survey(source: list[str] | np.ndarray, min_side: int, max_pixels: int) -> dict[str, int]:
    """One pass over a source on counters of its own: how many files, how many unreadable, how many gray."""
    stats = PipelineStats()
    for _ in source_images(source, stats, min_side, max_pixels):
        pass
    return stats.as_dict()


def worker_slice(source: list[str] | ShardedSplit, worker: int, workers: int) -> list[str] | ShardedSplit:
    """Worker `worker`'s part of a dataset of files: every `workers`-th file (or shard) from its own index.

    Raises:
        DatasetError: a sharded dataset with fewer shards than workers.
    """
    if isinstance(source, ShardedSplit):
        if len(source.shards) < workers:
            raise DatasetError(f"{len(source.shards)} shards cannot feed {workers} workers: write them again "
                               f"with a smaller --shard-size (python -m tfcolor.shards).")
        return ShardedSplit(source.shards[worker::workers])
    return source[worker::workers]


class PhotoSkipped(Exception):
    """A photo that cannot be colorized; the message is the reason."""


def read_photo(path: Path, max_pixels: int) -> tf.Tensor:
    """One photo file -> float RGB `(H, W, 3)`, its size checked from its header before it is decoded.

    Raises:
        PhotoSkipped: unreadable file, not an image, or more than `max_pixels` pixels.
    """
    try:
        contents = path.read_bytes()
    except OSError as error:
        raise PhotoSkipped(f"unreadable ({error.strerror or error})") from None
    try:
        over_limit = over_pixel_limit(contents, max_pixels)
        if over_limit:
            raise PhotoSkipped(over_limit)
        return decode_rgb(tf.constant(contents))
    except tf.errors.InvalidArgumentError as error:
        raise PhotoSkipped(f"not a readable image ({error.message.splitlines()[0]})") from None
