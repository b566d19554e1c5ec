"""One protocol for a dataset split, whatever holds its photos: files, an array of images, or shards.

A `Source` says how many elements it has, gives the keys of its elements in a fixed order or in an
order drawn from a stateless seed, reads one key into float RGB, and cuts out one worker's part. The
pipelines, the evaluation set and the survey use only this, so a new kind of dataset is one module
with an `open_splits` function and a line in `tfcolor.data.datasets`.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol

import numpy as np
import tensorflow as tf

from tfcolor.data import color
from tfcolor.data.images import decode_within_limit
from tfcolor.data.skips import PipelineStats

# key -> (float RGB `(H, W, 3)`, over the pixel limit?); raises on an unreadable or undecodable element.
Reader = Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


class Source(Protocol):
    """A split of a dataset, read element by element.

    Attributes:
        skips_unreadable: an element that cannot be read is skipped and counted (files), or it raises
            (a damaged shard, whose photos all decoded when it was written).
        shared_by_element: in a multi-worker run each worker reads its own `worker_part` (files,
            shards); otherwise every worker reads the whole source and tf.distribute shares out batches.
    """

    skips_unreadable: bool
    shared_by_element: bool

    def __len__(self) -> int: ...

    def in_order(self) -> tf.data.Dataset:
        """The keys of every element, in one fixed order."""

    def shuffled(self, pass_seed: tf.Tensor) -> tf.data.Dataset:
        """The keys of every element, in an order drawn from the stateless seed pair `pass_seed` alone."""

    def reader(self, stats: PipelineStats, min_side: int | None, max_pixels: int) -> Reader:
        """key -> (float RGB no larger than `min_side` needs, over `max_pixels`?), counting `stats.files`."""

    def worker_part(self, worker: int, workers: int) -> Source:
        """Worker `worker`'s share: every `workers`-th element from its own index."""


def shuffled_indices(count: int, pass_seed: tf.Tensor) -> tf.data.Dataset:
    """0..count-1 in an order drawn from the stateless seed pair `pass_seed` alone."""
    order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), pass_seed)
    return tf.data.Dataset.from_tensor_slices(order)


def balanced_indices(groups: np.ndarray, power: float, pass_seed: tf.Tensor) -> tf.data.Dataset:
    """As many indices as `groups` has, drawn (with replacement) so that a group of n elements is drawn in
    proportion to n**(1 - power): index i has weight 1 / (size of its group)**power (1: every group
    equally often, whatever its size; 0: every element equally often)."""
    sizes = np.bincount(groups)
    logits = tf.constant(-power * np.log(sizes[groups].astype(np.float64))[np.newaxis], tf.float32)
    draws = tf.random.stateless_categorical(logits, len(groups), tf.cast(pass_seed, tf.int64), dtype=tf.int64)
    return tf.data.Dataset.from_tensor_slices(draws[0])


class _IndexedSource:
    """A source whose keys are the indices 0..len-1 of its elements (its subclass says how many)."""

    def in_order(self) -> tf.data.Dataset:
        return tf.data.Dataset.range(len(self))

    def shuffled(self, pass_seed: tf.Tensor) -> tf.data.Dataset:
        return shuffled_indices(len(self), pass_seed)


class PhotoFiles(_IndexedSource):
    """Photo files (any format `decode_rgb` reads); a key is a file's index in `paths`."""

    skips_unreadable = True
    shared_by_element = True

    def __init__(self, paths: list[str]):
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def reader(self, stats: PipelineStats, min_side: int | None, max_pixels: int) -> Reader:
        # Paths travel as bytes: a name that is not UTF-8 (listing skips those) cannot break the graph.
        paths = tf.constant([os.fsencode(path) for path in self.paths], tf.string, shape=[len(self.paths)])

        def read(index):
            stats.files.assign_add(1)
            return decode_within_limit(tf.io.read_file(tf.gather(paths, index)), min_side, max_pixels)

        return read

    def worker_part(self, worker: int, workers: int) -> PhotoFiles:
        return PhotoFiles(self.paths[worker::workers])

    def by_group(self, group_of: Callable[[str], str]) -> dict[str, PhotoFiles]:
        """The files split by `group_of(path)` (e.g. their source), groups in name order."""
        groups: dict[str, list[str]] = {}
        for path in self.paths:
            groups.setdefault(group_of(path), []).append(path)
        return {name: PhotoFiles(groups[name]) for name in sorted(groups)}


class ImageArray(_IndexedSource):
    """Images already in memory, uint8 `(N, H, W, 3)` (CIFAR-10's batches, the demo's patches); a key is a row."""

    skips_unreadable = True
    shared_by_element = False

    def __init__(self, images: np.ndarray):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def reader(self, stats: PipelineStats, min_side: int | None, max_pixels: int) -> Reader:
        images = tf.constant(self.images)

        def read(index):
            stats.files.assign_add(1)
            return color.to_float_rgb(tf.gather(images, index)), tf.constant(False)

        return read

    def worker_part(self, worker: int, workers: int) -> ImageArray:
        return ImageArray(self.images[worker::workers])
