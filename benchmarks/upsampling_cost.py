"""What bringing colour to a large photo's size costs: bilinear against guided upsampling, time and memory.

    python -m benchmarks.upsampling_cost [--side 7070] [--record]

For each method, in a fresh process (so each peak RSS is its own): the untrained demo-size colorizer
colorizes a smooth synthetic `--side`² photo (49.98 Mpx at 7070, just under the 50 Mpx limit: the
largest photo colorize and the export accept) through `photo_colorizing.photo_colorizer`, the function
`tfcolor.colorize` writes with; once to trace, then timed twice. Reports seconds, ms per megapixel and
the process's peak RSS above its RSS before the photo was made. ../shared holds no photo above 512 px,
so the large photo is synthetic: what is measured is cost, not quality.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

from benchmarks.machine import cpu_description, record

SECTION = "`benchmarks/upsampling_cost.py` — bilinear against guided upsampling at the largest photo"


def measure(method: str, side: int) -> dict:
    """In this process: colorize one `side`² photo with `method`; seconds (best of 2) and peak RSS growth."""
    import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)

    # isort: split
    import tensorflow as tf

    from tfcolor.config import PRESETS
    from tfcolor.models import factory, photo_colorizing

    config = PRESETS["demo"]
    colorize = photo_colorizing.photo_colorizer(factory.build_colorizer(config), config.data.image_size, method)
    colorize(tf.zeros([40, 60, 3]))  # traced before the baseline is read
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ramp = tf.linspace(0.0, 1.0, side)
    photo = tf.stack([ramp[:, None] * tf.ones([side]), ramp[None, :] * tf.ones([side, 1]),
                      tf.fill([side, side], 0.5)], axis=-1)
    seconds = []
    for _ in range(3):
        began = time.perf_counter()
        colorize(photo).numpy()
        seconds.append(time.perf_counter() - began)
    best = min(seconds[1:])
    peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    return {"method": method, "seconds": best, "ms_per_mpx": 1000 * best / (side * side / 1e6), "peak_extra_mb": peak_mb,
            "bytes_per_pixel": peak_mb * 2**20 / (side * side)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=7070)
    parser.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process: measure this method, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.side)))
        return 0
    rows = []
    for method in ("bilinear", "guided"):
        child = subprocess.run([sys.executable, "-m", "benchmarks.upsampling_cost", "--side", str(args.side),
                                "--one", method], capture_output=True, text=True, check=True)
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    lines = [f"One {args.side}×{args.side} synthetic photo ({args.side**2 / 1e6:.2f} Mpx), untrained demo colorizer, "
             "`photo_colorizer` as `tfcolor.colorize` runs it, each method in its own process:", "",
             "| upsampling | seconds (best of 2 after tracing) | ms per Mpx (whole colorization) | peak RSS above the "
             "traced process, MB | bytes per pixel |", "|---|---|---|---|---|"]
    lines += [f"| {row['method']} | {row['seconds']:.2f} | {row['ms_per_mpx']:.0f} | {row['peak_extra_mb']:.0f} | "
              f"{row['bytes_per_pixel']:.0f} |" for row in rows]
    lines += ["", cpu_description()]
    table = "\n".join(lines)
    print(table)
    if args.record:
        print(f"Appended to {record(table, section=SECTION)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
