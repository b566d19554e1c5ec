"""Reading a sharded dataset (`--dataset tfrecord`): the manifest, its shards, and their photos' encoded bytes.

`python -m tfcolor.shards` writes a folder of TFRecord shards (`train-00000-of-00012.tfrecord`, ...)
and, last, `manifest.json`, which lists every shard with its number of photos, byte size and sha256.
A folder without the manifest is not a dataset (its writing did not finish). When a pipeline is built,
every shard must exist and have the manifest's byte size, so a truncated copy fails at once, naming
the file; the full sha256 is checked only by `verify` (`python -m tfcolor.shards --verify DIR`), since
hashing a 100 GB dataset at every start is not affordable. While reading, a shard that ends before the
manifest's count of photos (a damaged record ends TensorFlow's reading of its file) raises, naming it.

Reading functions take the list of shards explicitly, so a worker of a multi-worker run reads its
own slice of it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import tensorflow as tf

from tfcolor.config import DataConfig
from tfcolor.data.images import decode_within_limit
from tfcolor.data.skips import DatasetError, PipelineStats, with_end_marker
from tfcolor.data.sources import Reader

MANIFEST = "manifest.json"
FORMAT = "tfcolor-shards/1"
SPLITS = ("train", "validation")
ENCODED = "image/encoded"
# Shards read at once, interleaved record by record: parallel reads, and photos of several shards in a batch.
CYCLE_LENGTH = 16
# Training shuffles records in windows of this many (on top of a new shard order each pass); encoded
# photos are held, not decoded ones: 512 Places365 JPEGs are about 10 MB.
SHUFFLE_WINDOW = 512


@dataclasses.dataclass(frozen=True)
class Shard:
    """One shard file as the manifest describes it."""

    path: str
    examples: int
    size: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class ShardedSplit:
    """The train or validation split of a sharded dataset: its shards (the manifest's, or a worker's slice).

    `len()` is the number of photos the manifest counts in them, which sets the steps of an epoch. A
    `Source` whose keys are the photos' encoded bytes; a record that cannot be read is a damaged shard,
    which raises, naming it (shards hold only photos that decoded when they were written).
    """

    shards: tuple[Shard, ...]
    skips_unreadable = False
    shared_by_element = True

    def __len__(self) -> int:
        return sum(shard.examples for shard in self.shards)

    def in_order(self) -> tf.data.Dataset:
        """Encoded photos (scalar tf.string) in one fixed order."""
        return records(self.shards)

    def shuffled(self, pass_seed: tf.Tensor) -> tf.data.Dataset:
        """Encoded photos in an order drawn from the stateless seed pair `pass_seed` alone."""
        return shuffled_records(self.shards, pass_seed)

    def reader(self, stats: PipelineStats, min_side: int | None, max_pixels: int) -> Reader:
        def decode(contents):
            stats.files.assign_add(1)
            return decode_within_limit(contents, min_side, max_pixels)

        return decode

    def worker_part(self, worker: int, workers: int) -> ShardedSplit:
        """Every `workers`-th shard from the worker's own index.

        Raises:
            DatasetError: fewer shards than workers.
        """
        if len(self.shards) < workers:
            raise DatasetError(f"{len(self.shards)} shards cannot feed {workers} workers: write them again "
                               f"with a smaller --shard-size (python -m tfcolor.shards).")
        return ShardedSplit(self.shards[worker::workers])


def read_manifest(root: str | Path) -> dict:
    """The manifest of a shard folder.

    Raises:
        DatasetError: no manifest (not a shard folder, or its writing did not finish), or not one of ours.
    """
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise DatasetError(f"{root}: no {MANIFEST}, so not a complete set of shards (python -m tfcolor.shards "
                           f"writes it last, once every shard is in place; run it again to finish the writing).")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DatasetError(f"{path}: not a readable manifest ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DatasetError(f"{path}: expected a manifest of format {FORMAT!r}, got "
                           f"{manifest.get('format') if isinstance(manifest, dict) else type(manifest).__name__!r}")
    return manifest


def shards_of(root: Path, manifest: dict, split: str) -> tuple[Shard, ...]:
    """The shards `manifest` lists for `split`, their paths under `root`.

    Raises:
        DatasetError: the split is not described as a manifest of ours describes it.
    """
    try:
        listed = manifest["splits"][split]["shards"]
        return tuple(Shard(str(root / entry["file"]), int(entry["examples"]), int(entry["bytes"]), str(entry["sha256"]))
                     for entry in listed)
    except (KeyError, TypeError, ValueError) as error:
        raise DatasetError(f"{root / MANIFEST}: split {split!r} is not described as expected ({error!r})") from None


def _check_sizes(shards: Sequence[Shard]) -> None:
    """Every shard is there with the manifest's byte size: the quick check made at every start."""
    for shard in shards:
        path = Path(shard.path)
        if not path.is_file():
            raise DatasetError(f"shard {path} is missing (the manifest lists it with {shard.examples} photos).")
        size = path.stat().st_size
        if size != shard.size:
            raise DatasetError(f"shard {path} is {size} bytes, the manifest says {shard.size}: truncated or "
                               f"replaced; copy it again or write the shards again.")


def open_shards(root: str | Path) -> tuple[ShardedSplit, ShardedSplit]:
    """(train, validation) of a shard folder, once every shard has been found at its manifest size.

    Raises:
        DatasetError: no complete manifest, or a shard missing or of another size (named).
    """
    root = Path(root)
    manifest = read_manifest(root)
    splits = tuple(ShardedSplit(shards_of(root, manifest, split)) for split in SPLITS)
    for split in splits:
        _check_sizes(split.shards)
    return splits


def open_splits(config: DataConfig, seed: int, unlisted: dict[str, str]) -> tuple[ShardedSplit, ShardedSplit]:
    """`--dataset tfrecord`: the (train, validation) shards under `config.dataset_path`."""
    return open_shards(config.dataset_path)


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(root: str | Path) -> dict[str, int]:
    """Every shard's size and full sha256 against the manifest: `{"shards": n, "bytes": total}` when all match.

    Raises:
        DatasetError: naming every shard that is missing, of another size or of another checksum.
    """
    root = Path(root)
    manifest = read_manifest(root)
    shards = [shard for split in SPLITS for shard in shards_of(root, manifest, split)]
    problems = []
    for shard in shards:
        try:
            _check_sizes([shard])
        except DatasetError as error:
            problems.append(str(error))
            continue
        if sha256_of(shard.path) != shard.sha256:
            problems.append(f"shard {shard.path}: sha256 differs from the manifest's (damaged or replaced).")
    if problems:
        raise DatasetError(f"{root}: {len(problems)} of {len(shards)} shards do not match {MANIFEST}: "
                           + " ".join(problems))
    return {"shards": len(shards), "bytes": sum(shard.size for shard in shards)}


def _counted_records(path: tf.Tensor, expected: tf.Tensor) -> tf.data.Dataset:
    """The serialized records of one shard; raises, naming the shard, when it ends with another count than
    `expected`. A truncated or damaged record makes TFRecordDataset stop reading its file with a message that
    names no file; that stop is taken here and checked against the manifest's count instead."""
    records = with_end_marker(tf.data.TFRecordDataset(path).ignore_errors(), (tf.constant(b""),))

    def count(read, element):
        record, real = element
        read += tf.cast(real, tf.int64)
        return read, (record, real, read)

    def check(record, real, read):
        complete = real | tf.equal(read, expected)
        message = tf.strings.join(["shard ", path, " ended after ", tf.strings.as_string(read), " readable records, "
                                   "the manifest says ", tf.strings.as_string(expected), ": truncated or damaged "
                                   "(python -m tfcolor.shards --verify checks every shard)"])
        with tf.control_dependencies([tf.debugging.Assert(complete, [message])]):
            return tf.identity(record), real

    def is_record(record, real):
        return real

    def record_of(record, real):
        return record

    checked = records.scan(tf.constant(0, tf.int64), count).map(check)
    return checked.filter(is_record).map(record_of)


def _encoded(serialized: tf.Tensor) -> tf.Tensor:
    return tf.io.parse_single_example(serialized, {ENCODED: tf.io.FixedLenFeature([], tf.string)})[ENCODED]


def _interleaved(paths: tf.Tensor, counts: tf.Tensor, shard_count: int) -> tf.data.Dataset:
    """Encoded photos of the shards `paths` (holding `counts` records), read `CYCLE_LENGTH` at a time."""
    shards = tf.data.Dataset.from_tensor_slices((paths, counts))
    serialized = shards.interleave(_counted_records, cycle_length=max(1, min(CYCLE_LENGTH, shard_count)),
                                   block_length=1, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return serialized.map(_encoded, num_parallel_calls=tf.data.AUTOTUNE)


def _as_tensors(shards: Sequence[Shard]) -> tuple[tf.Tensor, tf.Tensor]:
    return (tf.constant([shard.path for shard in shards], tf.string, shape=[len(shards)]),
            tf.constant([shard.examples for shard in shards], tf.int64, shape=[len(shards)]))


def records(shards: Sequence[Shard]) -> tf.data.Dataset:
    """Encoded photos (scalar tf.string) of `shards` in one fixed order (validation, surveys, caches)."""
    return _interleaved(*_as_tensors(shards), len(shards))


def shuffled_records(shards: Sequence[Shard], pass_seed: tf.Tensor) -> tf.data.Dataset:
    """Encoded photos of `shards` in an order drawn from `pass_seed` (a stateless seed pair) alone: the
    shards in a shuffled order, interleaved, then shuffled in windows of `SHUFFLE_WINDOW` records. No
    stateful random op is involved, so a resumed run reads a pass in the order the first run did."""
    paths, counts = _as_tensors(shards)
    order = tf.random.experimental.stateless_shuffle(tf.range(len(shards), dtype=tf.int64), pass_seed)
    photos = _interleaved(tf.gather(paths, order), tf.gather(counts, order), len(shards))

    def shuffle_window(index, window):
        return tf.random.experimental.stateless_shuffle(window, tf.random.experimental.stateless_fold_in(pass_seed, index))

    windows = photos.batch(SHUFFLE_WINDOW).enumerate().map(shuffle_window, num_parallel_calls=tf.data.AUTOTUNE)
    return windows.unbatch()
