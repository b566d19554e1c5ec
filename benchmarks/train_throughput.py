"""Training throughput of tfcolor against a peer, each configuration in a fresh process, alternated.

    python -m benchmarks.train_throughput [--rounds 3] [--batch-size 64] [--steps 10]

The peer is `benchmarks.peer_pix2pix`, the original CIFAR-10 GAN ported as a user would from the TensorFlow
pix2pix tutorial (one tf.function step: 1 D + 2 G updates, Adam). It runs in TensorFlow's default
environment, and again with oneDNN off (`TF_ENABLE_ONEDNN_OPTS=0`, standing for the CPUs where
TensorFlow leaves it off) and on. tfcolor runs as users train it: `ColorizationGAN` through
`model.fit`, the cifar10 preset, in tfcolor's own environment (oneDNN on unless the user said
otherwise), float32 and `--precision auto`, and with XLA. All on random Lab-scaled data, so the
figures are the model's cost (the input pipeline has its own benchmark). Each configuration runs
`--rounds` times in turn; the table shows medians, ratios against the peer, and the share of the
step the training batches' quality metrics take. Prints a JSON line last.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)

# isort: split

from benchmarks.machine import cpu_description, peak_flops

ROOT = Path(__file__).resolve().parent.parent  # where `-m benchmarks.<name>` is found
PEER = [sys.executable, "-m", "benchmarks.peer_pix2pix"]
OURS = [sys.executable, "-m", "benchmarks.tfcolor_step"]


def configurations(batch_size: int, steps: int) -> dict[str, tuple[list[str], dict[str, str | None]]]:
    """Name -> (command, environment changes; None removes a variable)."""
    size = ["--batch-size", str(batch_size), "--steps", str(steps)]
    return {
        "peer, default environment": ([*PEER, *size], {"TF_ENABLE_ONEDNN_OPTS": None}),
        "peer, oneDNN off": ([*PEER, *size], {"TF_ENABLE_ONEDNN_OPTS": "0"}),
        "peer, oneDNN on": ([*PEER, *size], {"TF_ENABLE_ONEDNN_OPTS": "1"}),
        "tfcolor, float32": ([*OURS, *size, "--precision", "float32"], {"TF_ENABLE_ONEDNN_OPTS": None}),
        "tfcolor, --precision auto": ([*OURS, *size, "--precision", "auto"], {"TF_ENABLE_ONEDNN_OPTS": None}),
        "tfcolor, --precision auto, remapper on": ([*OURS, *size, "--precision", "auto", "--remapper", "on"],
                                                   {"TF_ENABLE_ONEDNN_OPTS": None}),
        "tfcolor, mixed_bfloat16": ([*OURS, *size, "--precision", "mixed_bfloat16"], {"TF_ENABLE_ONEDNN_OPTS": None}),
        "tfcolor, float32, XLA": ([*OURS, *size, "--precision", "float32", "--jit-compile", "on"],
                                  {"TF_ENABLE_ONEDNN_OPTS": None}),
    }


def run_one(command: list[str], changes: dict[str, str | None]) -> dict:
    environment = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    result = subprocess.run(command, capture_output=True, text=True, env=environment, check=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--only", nargs="+", help="configuration names to run (default: all)")
    args = parser.parse_args()
    runs = configurations(args.batch_size, args.steps)
    if args.only:
        runs = {name: runs[name] for name in args.only}
    found: dict[str, list[dict]] = {name: [] for name in runs}
    for round_index in range(args.rounds):
        for name, (command, changes) in runs.items():
            found[name].append(run_one(command, changes))
            print(f"round {round_index + 1}: {name}: {found[name][-1]['images_per_s']:.1f} images/s", file=sys.stderr)

    print(f"device: {cpu_description()}\ncifar10 preset, batch {args.batch_size}, {args.steps} timed steps, "
          f"median of {args.rounds} rounds")
    rows = {}
    for name, results in found.items():
        rate = statistics.median(r["images_per_s"] for r in results)
        rows[name] = {"images_per_s": rate, "all": [round(r["images_per_s"], 2) for r in results],
                      **{k: v for k, v in results[0].items() if k not in ("images_per_s", "first_step_s")}}
    for name, row in rows.items():
        extra = ""
        if row.get("gflop_per_image"):
            achieved = row["gflop_per_image"] * row["images_per_s"]
            peak = peak_flops(row.get("precision", "float32"))
            extra = f"  {achieved:.0f} GFLOP/s = {achieved / peak['gflops']:.0%} of {peak['gflops']:.0f}"
        onednn = f"oneDNN {'on' if row.get('onednn') else 'off'}"
        print(f"{name:32s} {row['images_per_s']:7.1f} images/s  ({onednn}){extra}  rounds: {row['all']}")
    ratios = {}
    for ours in (n for n in rows if n.startswith("tfcolor")):
        for peer in (n for n in rows if n.startswith("peer")):
            ratios[f"{ours} / {peer}"] = rows[ours]["images_per_s"] / rows[peer]["images_per_s"]
    for name, ratio in ratios.items():
        print(f"{name:70s} {ratio:5.2f}x")
    metric_shares = [r["metrics_share"] for r in found.get("tfcolor, float32", []) if "metrics_share" in r]
    if metric_shares:
        print(f"training-batch quality metrics: {statistics.median(metric_shares):.1%} of a float32 step")
    print(json.dumps({"device": cpu_description(), "peak": peak_flops("float32"), "rows": rows, "ratios": ratios}))


if __name__ == "__main__":
    main()
