"""What the benchmarks ran on: the CPU's model, flags and an estimate of its peak FLOP/s."""
from __future__ import annotations

import os
import platform

import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)
import tensorflow as tf

from tfcolor.devices import cpu_info

# FLOP per cycle per core of fused multiply-adds: two FMA pipes of 512 bits (16 float32 lanes) with
# AVX-512, of 256 bits (8 lanes) with AVX2; AVX512_BF16's dot products do twice the bfloat16 work.
FLOP_PER_CYCLE = {"avx512f": 64, "avx2": 32}
FLAGS_OF_INTEREST = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")


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
