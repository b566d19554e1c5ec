"""Images/s of `ColorizationGAN.train_step` (1 D + 2 G updates) with and without XLA.

    python benchmarks/train_throughput.py [--preset cifar10] [--batch-size 64] [--steps 10]

Random Lab-scaled data of the preset's size, so the figure is the model's cost alone (no input
pipeline). The first step (tracing/compilation) is timed separately and excluded from images/s.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import keras
import tensorflow as tf

from tfcolor import gan
from tfcolor.config import PRESETS


def measure(preset: str, batch_size: int, steps: int, jit_compile: bool) -> tuple[float, float]:
    """(seconds of the first step, images/s over the next `steps` steps)."""
    keras.utils.set_random_seed(0)
    config = PRESETS[preset]
    model = gan.build_colorizer(config, jit_compile=jit_compile)
    size = config.data.image_size
    batch = (
        tf.random.uniform((batch_size, size, size, 1), -1.0, 1.0),
        tf.random.uniform((batch_size, size, size, 2), -1.0, 1.0),
    )
    data = tf.data.Dataset.from_tensors(batch).repeat()
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)
    first = time.perf_counter() - start
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return first, steps * batch_size / (time.perf_counter() - start)


def cpu_name() -> str:
    """The CPU model and core count, for the results table."""
    model = platform.processor() or "CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        model = names[0] if names else model
    return f"{model}, {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cifar10", choices=sorted(PRESETS))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    gpus = tf.config.list_physical_devices("GPU")
    device = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else cpu_name()
    print(f"device: {device} ({len(gpus)} GPU) | TF {tf.__version__} | preset {args.preset}, batch {args.batch_size}")
    for jit_compile in (False, True):
        first, rate = measure(args.preset, args.batch_size, args.steps, jit_compile)
        print(f"jit_compile={jit_compile!s:5}  first step {first:6.1f} s  {rate:8.1f} images/s")


if __name__ == "__main__":
    main()
