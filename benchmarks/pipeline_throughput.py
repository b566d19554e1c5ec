"""Images/s of the tf.data training pipelines alone, beside what the model consumes at the same batch.

    python -m benchmarks.pipeline_throughput [--photos ../shared/photos] [--batches 30]

Sources: a Places365-style folder of 256x256 JPEGs (made once from `--photos`, real photographs,
into a temporary folder), read at 256 px (places365 preset, batch 16) and at 32 px (cifar10
network, batch 64); and CIFAR-10-shaped uint8 arrays (32x32, batch 64). Each pipeline runs as
training runs it (decode, skip grayscale, crop, flip, batch, Lab) with nothing else using the
cores. The model's consumption is `benchmarks.tfcolor_step`'s images/s for the same preset and batch, in its
own process. Prints a table and a JSON line.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)

# isort: split
import numpy as np
import tensorflow as tf

from benchmarks.machine import cpu_description
from tfcolor.config import DataConfig
from tfcolor.data import pipelines, skips

ROOT = Path(__file__).resolve().parent.parent  # where `-m benchmarks.tfcolor_step` is found
DEFAULT_PHOTOS = ROOT.parent / "shared" / "photos"


def places_folder(photos: Path, root: Path, count: int) -> Path:
    """`root/data_256/*.jpg` and `root/val_256/*.jpg`: real photos centre-cropped and scaled to 256x256."""
    sources = sorted(photos.glob("*.jpg"))[:count]
    if not sources:
        raise SystemExit(f"no photos under {photos}: give --photos")
    for folder in ("data_256", "val_256"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(sources):
        rgb = tf.io.decode_jpeg(tf.io.read_file(str(path)), channels=3)
        side = tf.reduce_min(tf.shape(rgb)[:2])
        square = tf.image.resize_with_crop_or_pad(rgb, side, side)
        small = tf.cast(tf.round(tf.image.resize(square, (256, 256), antialias=True)), tf.uint8)
        folder = "val_256" if index % 10 == 0 else "data_256"
        (root / folder / f"{index:08d}.jpg").write_bytes(tf.io.encode_jpeg(small, quality=90).numpy())
    return root


def _rate(dataset: tf.data.Dataset, batch_size: int, batches: int) -> float:
    """Images/s over `batches` batches of `dataset`, after 3 warm-up batches (tracing, thread pools, first files)."""
    iterator = iter(dataset)
    for _ in range(3):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def images_per_second(config: DataConfig, batch_size: int, batches: int) -> float:
    """A dataset config's training pipeline, as `tfcolor.train` builds it."""
    return _rate(pipelines.make_pipelines(config, batch_size, seed=0, validate=False).train, batch_size, batches)


def model_consumption(preset: str, batch_size: int) -> float:
    command = [sys.executable, "-m", "benchmarks.tfcolor_step", "--preset", preset, "--batch-size", str(batch_size),
               "--steps", "3", "--precision", "auto", "--no-flops"]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])["images_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS, help="folder of real photos to make JPEGs from")
    parser.add_argument("--count", type=int, default=200, help="photos in the 256x256 folder")
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        root = places_folder(args.photos, Path(folder) / "places365", args.count)
        cases = {
            "places365 JPEGs 256x256 -> 256 px, batch 16": (DataConfig(dataset="places365", dataset_path=str(root),
                                                                      image_size=256), 16, "places365"),
            "places365 JPEGs 256x256 -> 32 px, batch 64": (DataConfig(dataset="places365", dataset_path=str(root),
                                                                     image_size=32), 64, "cifar10"),
        }
        cifar = np.random.default_rng(0).integers(0, 256, (2048, 32, 32, 3), dtype=np.uint8)
        for name, (config, batch_size, preset) in cases.items():
            rows[name] = {"pipeline": images_per_second(config, batch_size, args.batches),
                          "model": model_consumption(preset, batch_size)}
    rows["CIFAR-10 arrays 32x32 -> 32 px, batch 64"] = {
        "pipeline": array_images_per_second(cifar, 64, args.batches), "model": model_consumption("cifar10", 64)}
    print(f"device: {cpu_description()}")
    for name, row in rows.items():
        row["ratio"] = row["pipeline"] / row["model"]
        print(f"{name:48s} pipeline {row['pipeline']:8.1f} images/s  model {row['model']:6.1f}  ratio {row['ratio']:6.1f}x")
    print(json.dumps({"device": cpu_description(), "rows": rows}))


def array_images_per_second(images: np.ndarray, batch_size: int, batches: int) -> float:
    """The CIFAR-10 pipeline on arrays already in memory (what `cifar.load_split` returns)."""
    stats = skips.PipelineStats()
    config = DataConfig(dataset="cifar10", image_size=32)
    return _rate(pipelines.training_batches(images, stats, config, batch_size, seed=0), batch_size, batches)


if __name__ == "__main__":
    main()
