"""Reading a source's photos as float RGB, the bad ones skipped and counted exactly where they are
skipped; and, for Python code going file by file (colorize, shards), one photo file with the reason
it cannot be used (`read_photo`).

Corrupt or unreadable elements, photos over the pixel limit (known from the header, never decoded)
and grayscale photos are counted in a `PipelineStats`, which training reports every epoch and
evaluation in its results.
"""
from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from tfcolor.data.images import decode_rgb, is_grayscale, over_pixel_limit
from tfcolor.data.skips import PipelineStats, with_end_marker
from tfcolor.data.sources import Reader, Source

AUTOTUNE = tf.data.AUTOTUNE


def read_counted(indices: tf.data.Dataset, read: Reader, stats: PipelineStats, length: int | None = None,
                 skip_unreadable: bool = True) -> tf.data.Dataset:
    """The elements `indices` name, read in that order; unreadable and oversized files are skipped and counted.

    A failed read is dropped by `ignore_errors`; the stream counts it when the next good read shows a
    gap in the positions, so reads still in flight never count. A finite stream of `length` indices
    ends with a sentinel at position `length`, so failures at its very end are counted too. Without
    `skip_unreadable` a failure raises (`ignore_errors` would also swallow the errors of the stream
    of indices: a damaged shard's)."""
    reads = indices.enumerate().map(lambda position, index: (position, *read(index)), num_parallel_calls=AUTOTUNE)
    reads = reads.ignore_errors() if skip_unreadable else reads
    if length is None:
        reads = reads.map(lambda position, rgb, oversized: (position, rgb, oversized, tf.constant(True)))
    else:
        reads = with_end_marker(reads, (tf.constant(length, tf.int64), tf.zeros([1, 1, 3]), tf.constant(False)))

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


def source_images(source: Source, stats: PipelineStats, min_side: int | None, max_pixels: int) -> tf.data.Dataset:
    """A source's float RGB images in their order, unreadable, oversized and grayscale ones skipped."""
    read = source.reader(stats, min_side, max_pixels)
    return without_grayscale(read_counted(source.in_order(), read, stats, len(source), source.skips_unreadable), stats)


def survey(source: Source, min_side: int, max_pixels: int) -> dict[str, int]:
    """One pass over a source on counters of its own: how many files, how many unreadable, how many gray."""
    stats = PipelineStats()
    for _ in source_images(source, stats, min_side, max_pixels):
        pass
    return stats.as_dict()


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
