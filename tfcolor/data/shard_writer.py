"""Writing a photo dataset as TFRecord shards, for `--dataset tfrecord` (`tfcolor.data.shard_reader` reads them).

Places365 is 1.8 million files; opening each one costs more than reading it on network and cold
disks. Shards hold a few hundred photos each, read in long sequential runs. Each photo is stored as
it is on disk (its JPEG/PNG/... bytes; CIFAR-10's arrays as PNG) in a `tf.train.Example` with
`image/encoded`, `image/height`, `image/width` and `image/source` (its name in the dataset), so
training decodes, crops and augments it exactly as it does the original files.

The photos and the train/validation split are those training on the original would use (the same
listing); the training photos are written in a shuffled order (seed 0), so every shard holds a mix of
the dataset. Corrupt, grayscale and oversized photos, and names that are not UTF-8, are left out and
listed with their reason in `manifest.json`, with every shard's count, byte size and sha256.

Nothing is lost on the way: the new set is written beside whatever the folder holds and swapped in
once complete, only files of ours are ever replaced, and a failed, killed or out-of-space run leaves
the folder as it found it (`tfcolor.data.shard_folder`). A folder that holds a complete set is not
written again without `--overwrite`.
"""
from __future__ import annotations

import dataclasses
import errno
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfcolor import __version__
from tfcolor.config import DEFAULT_MAX_PIXELS
from tfcolor.config.run_layout import fsync_entry
from tfcolor.data import cifar, reading, shard_folder
from tfcolor.data.images import decode_within_limit, is_grayscale, over_pixel_limit
from tfcolor.data.photo_files import folder_files, printable
from tfcolor.data.places365 import places365_files
from tfcolor.data.shard_reader import ENCODED, FORMAT, SPLITS, sha256_of
from tfcolor.data.skips import REASONS, DatasetError

SOURCE_DATASETS = ("places365", "folder", "cifar10")
DEFAULT_SHARD_SIZE = 1024
WRITE_ORDER_SEED = 0
# Write errors that mean "no room": a full disk, a quota, a file-size limit (RLIMIT_FSIZE).
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class DiskFull(DatasetError):
    """The new shards did not fit on the output's disk."""


@dataclasses.dataclass
class _Listing:
    """One split of the source as training lists it: names (for `image/source` and the manifest) and
    how to get item i's encoded bytes in a graph."""

    names: list[str]
    contents_of: Callable[[tf.Tensor], tf.Tensor]
    unlisted: dict[str, str]
    paths: list[str] | None = None  # files, to say why one could not be read


def _file_listing(paths: list[str], root: Path, unlisted: dict[str, str]) -> _Listing:
    files = tf.constant([os.fsencode(path) for path in paths], tf.string, shape=[len(paths)])
    return _Listing([os.path.relpath(path, root) for path in paths], lambda i: tf.io.read_file(files[i]), unlisted,
                    paths)


def _array_listing(images: np.ndarray, split: str) -> _Listing:
    pixels = tf.constant(images)
    return _Listing([f"{split}[{i}]" for i in range(len(images))], lambda i: tf.io.encode_png(pixels[i]), {})


def _why_unreadable(listing: _Listing, item: int, max_pixels: int) -> str:
    """The reason colorize would give for a photo the parallel check dropped (read again, alone)."""
    if listing.paths is not None:
        try:
            reading.read_photo(Path(listing.paths[item]), max_pixels)
        except reading.PhotoSkipped as error:
            return str(error)
    return REASONS["corrupt"]


def _listings(dataset: str, root: Path) -> dict[str, _Listing]:
    """{"train": ..., "validation": ...} of a source dataset, listed as `tfcolor.data.pipelines` lists it for training."""
    if dataset == "cifar10":
        try:
            return {"train": _array_listing(cifar.load_split(root, True), "train"),
                    "validation": _array_listing(cifar.load_split(root, False), "test")}
        except FileNotFoundError as error:
            raise DatasetError(str(error)) from None
    skipped: dict[str, dict[str, str]] = {"train": {}, "validation": {}}
    if dataset == "places365":
        train = places365_files(root, True, skipped["train"])
        validation = places365_files(root, False, skipped["validation"])
    else:
        unlisted: dict[str, str] = {}
        train, validation = folder_files(root, unlisted)
        for name, reason in unlisted.items():  # a `val/` sub-folder's files are the validation split's
            in_validation = (root / "val").is_dir() and Path(name).is_relative_to(printable(root / "val"))
            skipped["validation" if in_validation else "train"][name] = reason
    relative = {split: {os.path.relpath(name, printable(root)): reason for name, reason in names.items()}
                for split, names in skipped.items()}
    return {"train": _file_listing(train, root, relative["train"]),
            "validation": _file_listing(validation, root, relative["validation"])}


def _checked_photos(listing: _Listing, order: np.ndarray, max_pixels: int) -> tf.data.Dataset:
    """(position, item, encoded, height, width, oversized, grayscale) for the items `order` names, read and
    decoded in parallel; an item that cannot be read or decoded leaves a gap in the positions."""
    def check(position, item):
        encoded = listing.contents_of(item)
        rgb, oversized = decode_within_limit(encoded, None, max_pixels)
        grayscale = tf.logical_not(oversized) & is_grayscale(rgb)
        return position, item, encoded, tf.shape(rgb)[0], tf.shape(rgb)[1], oversized, grayscale

    items = tf.data.Dataset.from_tensor_slices(tf.constant(order, tf.int64, shape=[len(order)])).enumerate()
    return items.map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).ignore_errors()


def _example(encoded: bytes, height: int, width: int, name: str) -> bytes:
    def feature(value):
        if isinstance(value, bytes):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    features = {ENCODED: feature(encoded), "image/height": feature(height), "image/width": feature(width),
                "image/source": feature(name.encode("utf-8", errors="backslashreplace"))}
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def _write_split(split: str, listing: _Listing, staging: Path, shard_size: int, max_pixels: int,
                 progress: Callable[[str], None]) -> dict:
    """The split's photos into shards of `shard_size` in `staging`, fsynced, under their final names; its
    manifest entry."""
    count = len(listing.names)
    order = np.random.default_rng(WRITE_ORDER_SEED).permutation(count) if split == "train" else np.arange(count)
    skipped = dict(listing.unlisted)
    counts = {"corrupt": 0, "grayscale": 0, "oversized": 0, "unlisted": len(listing.unlisted)}
    shards: list[dict] = []
    paths: list[Path] = []
    writer, in_shard, last = None, 0, -1

    def skip(item: int, kind: str, reason: str | None = None) -> None:
        counts[kind] += 1
        skipped[listing.names[item]] = reason or REASONS[kind]

    def close_shard() -> None:
        writer.close()
        fsync_entry(paths[-1])
        shards.append({"file": paths[-1].name, "examples": in_shard, "bytes": paths[-1].stat().st_size,
                       "sha256": sha256_of(paths[-1])})
        progress(f"{split}: shard {len(shards)} written ({sum(s['examples'] for s in shards)} photos)")

    for element in _checked_photos(listing, order, max_pixels).as_numpy_iterator():
        position, item, encoded, height, width, oversized, grayscale = element
        for failed in order[last + 1 : position]:
            skip(failed, "corrupt", _why_unreadable(listing, failed, max_pixels))
        last = position
        if oversized:
            skip(item, "oversized", over_pixel_limit(encoded, max_pixels))
            continue
        if grayscale:
            skip(item, "grayscale")
            continue
        if writer is None:
            paths.append(staging / shard_folder.staged_name(split, len(shards)))
            writer, in_shard = tf.io.TFRecordWriter(str(paths[-1])), 0
        writer.write(_example(encoded, int(height), int(width), listing.names[item]))
        in_shard += 1
        if in_shard == shard_size:
            close_shard()
            writer = None
    for failed in order[last + 1 :]:
        skip(failed, "corrupt", _why_unreadable(listing, failed, max_pixels))
    if writer is not None:
        close_shard()
    for index, shard in enumerate(shards):  # the total is known now: every shard gets its final name
        shard["file"] = shard_folder.shard_name(split, index, len(shards))
        os.replace(paths[index], staging / shard["file"])
    return {"examples": sum(shard["examples"] for shard in shards), "shards": shards, "skipped_counts": counts,
            "skipped": skipped}


def _out_of_space(error: BaseException) -> bool:
    """Whether a write failed for want of room (TensorFlow's writer says so only in its message)."""
    if isinstance(error, OSError):
        return error.errno in _NO_SPACE
    return isinstance(error, tf.errors.OpError) and any(os.strerror(code) in error.message for code in _NO_SPACE)


def write_shards(dataset: str, source: str | Path, output: str | Path, shard_size: int = DEFAULT_SHARD_SIZE,
                 max_pixels: int = DEFAULT_MAX_PIXELS, overwrite: bool = False,
                 progress: Callable[[str], None] = lambda line: None) -> dict:
    """Write `dataset` (`places365`, `folder` or `cifar10` at `source`) as TFRecord shards in `output`.

    Returns the manifest written last to `output/manifest.json`: per split the number of photos, the
    shards (file, examples, bytes, sha256) and the skipped photos with their reasons.

    Raises:
        DatasetError: the source is not a dataset of that kind.
        ShardsExist: `output` holds a complete set of shards and `overwrite` is off.
        ForeignFile: `output` holds a shard-named file or a manifest that tfcolor did not write.
        DiskFull: the new set did not fit beside what `output` holds (which is left as it was).
    """
    if dataset not in SOURCE_DATASETS:
        raise DatasetError(f"cannot shard dataset {dataset!r}; expected one of {', '.join(SOURCE_DATASETS)}.")
    source, output = Path(source), Path(output)
    if not source.exists():
        raise DatasetError(f"--dataset-path {source} does not exist.")
    listings = _listings(dataset, source)
    output.mkdir(parents=True, exist_ok=True)
    replaces = shard_folder.claim(output, overwrite)
    staging = shard_folder.new_staging(output)
    try:
        written = {split: _write_split(split, listings[split], staging, shard_size, max_pixels, progress)
                   for split in SPLITS}
        manifest = {"format": FORMAT, "tfcolor_version": __version__,
                    "source": {"dataset": dataset, "path": printable(source.resolve())},
                    "shard_size": shard_size, "max_pixels": max_pixels,
                    "train_order": f"shuffled with seed {WRITE_ORDER_SEED}", "splits": written}
        shard_folder.stage(output, manifest, replaces)
    except BaseException as error:  # interrupted too: the folder is left as it was found
        shard_folder.remove_staging(output)
        if _out_of_space(error):
            kept = "the shards already there are untouched, " if replaces else ""
            raise DiskFull(f"{output}: out of disk space for the new shards ({error}): the disk is full, or a quota "
                           f"or file-size limit was reached. Nothing was replaced or lost: {kept}the partly "
                           f"written new ones are removed. The new set is written beside the old one, so the disk "
                           f"needs room for both: free space, or give another --output, and run again.") from error
        raise
    shard_folder.commit(output)
    return manifest
