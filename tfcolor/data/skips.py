"""Why a photo is left out, said one way, and the counters of the photos left out.

Corrupt or unreadable files, photos over the pixel limit (known from the header, never decoded),
grayscale photos (all three channels equal, skipped as the original code does) and names that are
not UTF-8 are left out wherever photos are read: training, evaluation, colorize and the shard
writer all name them with `REASONS` and count them in `PipelineStats`.
"""
from __future__ import annotations

import tensorflow as tf


class DatasetError(ValueError):
    """The dataset flags point at something that is not a usable dataset."""


# What each counter counts, in the words every report uses.
REASONS = {"corrupt": "corrupt or unreadable", "oversized": "over the pixel limit", "grayscale": "grayscale",
           "unlisted": "name is not valid UTF-8"}
UNTEXT_NAME_REASON = "its name is not valid UTF-8 (rename the file to use it)"


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
    """`{"corrupt": 2, "grayscale": 1, ...}` -> "2 corrupt or unreadable, 1 grayscale" ("" when none)."""
    return ", ".join(f"{counts[name]} {REASONS[name]}" for name in ("corrupt", "oversized", "grayscale")
                     if counts.get(name))


def with_end_marker(elements: tf.data.Dataset, end: tuple) -> tf.data.Dataset:
    """`(*element, True)` for each element, then `(*end, False)`: a stream whose consumer (a `scan` that
    counts) also sees where it ended, so what failed after the last good element is counted too."""
    def real(*element):
        return (*element, tf.constant(True))

    marker = tf.data.Dataset.from_tensors((*end, tf.constant(False)))
    return elements.map(real).concatenate(marker)
