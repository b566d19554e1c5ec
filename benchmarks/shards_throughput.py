"""Images/s reading 256x256 JPEGs from many small files vs from TFRecord shards, warm and cold page cache.

    python -m benchmarks.shards_throughput [--photos ../shared/photos] [--count 5000] [--workdir /data/tmp]

Makes `--count` 256x256 JPEGs (crops of the real photos in `--photos`) in the Places365 layout, one
file each, and writes them as shards with `tfcolor.shards`. Then, for each source, in training's
shuffled order:
- read: the encoded bytes alone (one `read_file` per photo, or the interleaved shard reads training
  uses): what the storage gives;
- pipeline: the training pipeline at 256 px, batch 16 (decode, skip gray, crop, flip, Lab): what
  training gets.
Warm: everything was just read, so it is in the page cache. Cold: the page cache is dropped
(`echo 1 > /proc/sys/vm/drop_caches`, root only) after the first element (tracing, thread pools)
and before the timed part, which stays within one pass so every photo comes from the disk. Where
dropping is not permitted, cold is reported as not measured. The work folder's filesystem is
printed: on tmpfs there is no disk and cold means nothing. Prints a table and a JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)

# isort: split
import numpy as np
import tensorflow as tf

from benchmarks.machine import cpu_description
from tfcolor import shards
from tfcolor.config import DataConfig
from tfcolor.data import pipelines, places365, shard_reader

DEFAULT_PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "photos"
BATCH = 16
DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def jpeg_folder(photos: Path, root: Path, count: int) -> Path:
    """`root/data_256/<1000 a folder>/*.jpg` (+ every 50th in `val_256/`): 256x256 JPEGs at quality 90, random
    square crops of the real photos (each photo used again with another crop once all have been used)."""
    sources = sorted(photos.glob("*.jpg"))
    if not sources:
        raise SystemExit(f"no photos under {photos}: give --photos")
    rng = np.random.default_rng(0)
    decoded = {}
    for index in range(count):
        path = sources[index % len(sources)]
        rgb = decoded.setdefault(path, tf.io.decode_jpeg(tf.io.read_file(str(path)), channels=3))
        side = int(min(rgb.shape[:2]) * rng.uniform(0.6, 1.0))
        top, left = rng.integers(rgb.shape[0] - side + 1), rng.integers(rgb.shape[1] - side + 1)
        small = tf.image.resize(rgb[top : top + side, left : left + side], (256, 256), antialias=True)
        folder = root / "val_256" if index % 50 == 0 else root / "data_256" / f"{index // 1000:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index:08d}.jpg").write_bytes(tf.io.encode_jpeg(tf.cast(tf.round(small), tf.uint8), quality=90).numpy())
    return root


def filesystem_of(path: Path) -> str:
    """`device type` of the mount that holds `path` (the longest mount point above it)."""
    mounts = [line.split()[:3] for line in Path("/proc/mounts").read_text().splitlines()]
    device, point, kind = max((m for m in mounts if str(path.resolve()).startswith(m[1])), key=lambda m: len(m[1]))
    return f"{device} ({kind}) mounted on {point}"


def drop_page_cache() -> str | None:
    """Drop the kernel's clean page cache; None when done, else why it could not be."""
    os.sync()
    try:
        DROP_CACHES.write_text("1")
    except OSError as error:
        return f"cannot write {DROP_CACHES}: {error.strerror or error}"
    return None


def read_everything(folder: Path) -> None:
    """Every file under `folder` read once, so it is in the page cache."""
    for path in folder.rglob("*"):
        if path.is_file():
            path.read_bytes()


def timed(dataset: tf.data.Dataset, images_per_element: int, elements: int, cold: bool, folder: Path) -> float | None:
    """Images/s over `elements` elements after the first, with every file under `folder` in the page cache,
    or, with `cold`, none (None when the cache cannot be dropped)."""
    read_everything(folder)
    iterator = iter(dataset)
    next(iterator)
    if cold and drop_page_cache():
        return None
    start = time.perf_counter()
    for _ in range(elements):
        next(iterator)
    return elements * images_per_element / (time.perf_counter() - start)


def bytes_only(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """As training runs it: one parallel call per core (autotuning off), read ahead."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def file_reads(paths: list[str]) -> tf.data.Dataset:
    names = tf.constant([os.fsencode(path) for path in paths])
    order = tf.random.experimental.stateless_shuffle(tf.range(len(paths), dtype=tf.int64), tf.constant([0, 0], tf.int64))
    reads = tf.data.Dataset.from_tensor_slices(order).map(lambda i: tf.io.read_file(names[i]),
                                                          num_parallel_calls=tf.data.AUTOTUNE)
    return bytes_only(reads)


def shard_reads(split: shard_reader.ShardedSplit) -> tf.data.Dataset:
    return bytes_only(split.shuffled(tf.constant([0, 0], tf.int64)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="folder of real photos to make JPEGs from")
    parser.add_argument("--count", type=int, default=5000, help="256x256 JPEGs to make")
    parser.add_argument("--shard-size", type=int, default=shards.DEFAULT_SHARD_SIZE, help="photos per shard")
    parser.add_argument("--workdir", type=Path, default=None, help="where to make them (default: a temporary folder)")
    args = parser.parse_args()
    rows: dict[str, dict[str, float | None]] = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        root = jpeg_folder(args.photos, Path(folder) / "places365", args.count)
        shards.write_shards("places365", root, Path(folder) / "shards", args.shard_size)
        paths = places365.places365_files(root, True)
        sharded = shard_reader.open_shards(Path(folder) / "shards")[0]
        configs = {"files": DataConfig(dataset="places365", dataset_path=str(root), image_size=256),
                   "shards": DataConfig(dataset="tfrecord", dataset_path=str(Path(folder) / "shards"), image_size=256)}
        reads = {"files": lambda: file_reads(paths), "shards": lambda: shard_reads(sharded)}
        batches = len(paths) // BATCH - 2
        for source in ("files", "shards"):
            for cache in ("warm", "cold"):
                cold = cache == "cold"
                rows[f"read {source} ({cache})"] = timed(reads[source](), 1, len(paths) - 1, cold, Path(folder))
                pipeline = pipelines.make_pipelines(configs[source], BATCH, seed=0, validate=False).train
                rows[f"pipeline 256 px, batch {BATCH}, {source} ({cache})"] = timed(pipeline, BATCH, batches, cold,
                                                                                    Path(folder))
        where = filesystem_of(Path(folder))
    cold_note = drop_page_cache()
    print(f"device: {cpu_description()}")
    print(f"photos: {len(paths)} training JPEGs 256x256, {args.shard_size} a shard; work folder on {where}")
    for name, rate in rows.items():
        print(f"{name:48s} " + (f"{rate:9.1f} images/s" if rate is not None else f"not measured ({cold_note})"))
    print(json.dumps({"device": cpu_description(), "photos": len(paths), "shard_size": args.shard_size,
                      "filesystem": where, "images_per_s": rows, "cold_not_measured": cold_note}))


if __name__ == "__main__":
    main()
