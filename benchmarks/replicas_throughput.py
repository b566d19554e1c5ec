"""Training images/s on 1 device against N replicas of a MirroredStrategy, each in a fresh process, alternated.

    python -m benchmarks.replicas_throughput [--replicas 2] [--rounds 3] [--batch-size 128] [--steps 10] [--record]

The cifar10 preset's GAN through `model.fit` (`benchmarks.tfcolor_step`), global batch `--batch-size` (the
preset's 128), float32 and `--precision auto`. With GPUs the replicas are GPUs; on a CPU they are the
CPU split into logical devices, which share the same cores: there the figure says what the
replication costs (all-reduce, synchronized batch-norm, smaller per-replica convolutions), not a
speed-up. `--record` appends the table to benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)

# isort: split

from benchmarks.machine import entry, record

ROOT = Path(__file__).resolve().parent.parent  # where `-m benchmarks.tfcolor_step` is found
STEP = [sys.executable, "-m", "benchmarks.tfcolor_step", "--no-flops"]


def run_one(replicas: int, precision: str, batch_size: int, steps: int) -> dict:
    command = [*STEP, "--replicas", str(replicas), "--precision", precision, "--batch-size", str(batch_size),
               "--steps", str(steps)]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    cases = [(replicas, precision) for precision in ("float32", "auto") for replicas in (1, args.replicas)]
    found: dict[tuple[int, str], list[dict]] = {case: [] for case in cases}
    for round_index in range(args.rounds):
        for replicas, precision in cases:
            found[replicas, precision].append(run_one(replicas, precision, args.batch_size, args.steps))
            rate = found[replicas, precision][-1]["images_per_s"]
            print(f"round {round_index + 1}: {replicas} replica(s), {precision}: {rate:.1f} images/s", file=sys.stderr)
    lines = [f"cifar10 preset, global batch {args.batch_size}, {args.steps} timed steps, median of {args.rounds} "
             "rounds (`python -m benchmarks.replicas_throughput`).", "",
             "| precision | replicas | images/s | against 1 replica | rounds |", "|---|---|---|---|---|"]
    for replicas, precision in cases:
        results = found[replicas, precision]
        rate = statistics.median(r["images_per_s"] for r in results)
        single = statistics.median(r["images_per_s"] for r in found[1, precision])
        rounds = ", ".join(f"{r['images_per_s']:.1f}" for r in results)
        lines.append(f"| {results[0]['precision']} | {results[0]['replicas']} | {rate:.1f} | {rate / single:.2f}x | "
                     f"{rounds} |")
    table = "\n".join(lines)
    print(entry(table, title="replicas"))
    if args.record:
        print(f"Appended to {record(table, title='replicas')}")


if __name__ == "__main__":
    main()
