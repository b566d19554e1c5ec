"""What the benchmarks ran on (the CPU's model, flags, an estimate of its peak FLOP/s, TensorFlow's
version) and the one way a benchmark's `--record` appends its table to benchmarks/RESULTS.md."""
from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)

# isort: split
import tensorflow as tf

from tfcolor.training.runtime import cpu_info

# FLOP per cycle per core of fused multiply-adds: two FMA pipes of 512 bits (16 float32 lanes) with
# AVX-512, of 256 bits (8 lanes) with AVX2; AVX512_BF16's dot products do twice the bfloat16 work.
FLOP_PER_CYCLE = {"avx512f": 64, "avx2": 32}
FLAGS_OF_INTEREST = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def cpu_flags() -> list[str]:
    """The flags among FLAGS_OF_INTEREST this CPU has: the ones that decide TensorFlow's kernels."""
    flags = cpu_info().get("flags", "").split()
    return [flag for flag in FLAGS_OF_INTEREST if flag in flags]


def cpu_name() -> str:
    """The CPU model and core count."""
    return f"{cpu_info().get('model name', platform.processor() or 'CPU')}, {os.cpu_count()} cores"


def cpu_description() -> str:
    """Model, cores, clock and the flags that decide TensorFlow's kernels, or the GPU when there is one."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    mhz = cpu_info().get("cpu MHz", "?")
    return f"{cpu_name()}, {mhz} MHz, flags: {' '.join(cpu_flags()) or 'none of ' + ', '.join(FLAGS_OF_INTEREST)}"


def peak_flops(precision: str = "float32") -> dict:
    """An estimate of the CPU's peak: cores x the clock /proc/cpuinfo reports x FLOP per cycle.

    A ceiling for comparison, not a measurement: the reported clock is the nominal one (turbo runs
    higher), and whether AVX-512 runs on full 512-bit pipes depends on the core generation.
    """
    info = cpu_info()
    flags = info.get("flags", "").split()
    per_cycle = next((v for flag, v in FLOP_PER_CYCLE.items() if flag in flags), 16)
    if precision == "mixed_bfloat16" and ("avx512_bf16" in flags or "amx_bf16" in flags):
        per_cycle *= 2
    mhz = float(info.get("cpu MHz", 0) or 0)
    return {"gflops": (os.cpu_count() or 1) * mhz * per_cycle / 1000, "flop_per_cycle_per_core": per_cycle,
            "mhz": mhz, "cores": os.cpu_count(), "precision": precision}


def heading(title: str = "") -> str:
    """`### <date> — [<title>: ]<device>, TF <version>`: the line every recorded table starts with."""
    named = f"{title}: " if title else ""
    return f"### {datetime.date.today().isoformat()} — {named}{cpu_description()}, TF {tf.__version__}"


def entry(table: str, title: str = "") -> str:
    """`table` under its heading, as `record` writes it (for a benchmark to print the same)."""
    return f"{heading(title)}\n\n{table.strip()}\n"


def record(table: str, *, title: str = "", section: str = "", intro: str = "", after: str = "",
           results: Path = RESULTS) -> Path:
    """Append `table` to benchmarks/RESULTS.md under `heading(title)`: the one way a benchmark records.

    `section`: the `## ` heading (without the `## `) the benchmark's entries belong under; written, with
    `intro` below it, only when the file does not have it yet (later entries are appended at the end of
    the file, never edited into old text). `after`: lines under the table (a plot's link, a note).
    Returns the file written.
    """
    text = results.read_text(encoding="utf-8") if results.exists() else ""
    block = "\n"
    if section and f"## {section}" not in text.splitlines():
        block += f"## {section}\n\n" + (f"{intro.strip()}\n\n" if intro else "")
    block += entry(table, title) + (f"\n{after.strip()}\n" if after else "")
    start = "# Benchmark results\n" if not text else "" if text.endswith("\n") else "\n"
    with results.open("a", encoding="utf-8") as results_file:
        results_file.write(start + block)
    return results
