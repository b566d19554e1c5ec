"""Where and how a run executes: which GPUs, XLA or not, which precision.

Settings are resolved here from the config's words (`auto`, `on`, ...) and the machine, so the
rest of the code receives plain decisions.
"""
from __future__ import annotations

import os
from pathlib import Path

import tensorflow as tf

from tfcolor.config_rules import ConfigError


def select_gpus(gpu_ids: str | None) -> None:
    """Make only the GPUs `gpu_ids` names visible (`"0,2"`); `"-1"` hides them all (CPU only).

    Raises:
        ConfigError: an index that is not a number or names a GPU this machine does not have.
    """
    if gpu_ids is None:
        return
    gpus = tf.config.list_physical_devices("GPU")
    try:
        wanted = [int(i) for i in gpu_ids.split(",") if i.strip()]
    except ValueError:
        raise ConfigError(f"--gpu-ids: expected comma-separated GPU indices or -1, got {gpu_ids!r}") from None
    wanted = [i for i in wanted if i >= 0]
    missing = [i for i in wanted if i >= len(gpus)]
    if missing:
        available = f"indices 0..{len(gpus) - 1}" if gpus else "none: this machine has no GPU TensorFlow can use"
        raise ConfigError(f"--gpu-ids: no GPU {', '.join(map(str, missing))} (available: {available}); "
                          f"-1 trains on the CPU")
    tf.config.set_visible_devices([gpus[i] for i in wanted], "GPU")


def use_xla(setting: str) -> bool:
    """`auto`: XLA on a GPU, not on a CPU, where it measured slower (benchmarks/RESULTS.md)."""
    if setting == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    return setting == "on"


def cpu_info() -> dict[str, str]:
    """The first CPU's entries of /proc/cpuinfo (`model name`, `flags`, `cpu MHz`...); empty elsewhere."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return {}
    found: dict[str, str] = {}
    for line in cpuinfo.read_text().splitlines():
        key, _, value = line.partition(":")
        found.setdefault(key.strip(), value.strip())
    return found


def resolve_precision(setting: str) -> str:
    """The Keras precision policy `--precision` names; `auto` picks what measured fastest.

    - a GPU of compute capability 7.0 or newer (tensor cores): `mixed_float16`;
    - a CPU with bfloat16 arithmetic (AMX or AVX512_BF16) and oneDNN on: `mixed_bfloat16`
      (1.4x float32 on the AVX512_BF16 CPU of benchmarks/RESULTS.md);
    - anything else: `float32`.
    """
    if setting != "auto":
        return setting
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") or (0, 0)
        return "mixed_float16" if tuple(capability) >= (7, 0) else "float32"
    bf16 = {"amx_bf16", "avx512_bf16"} & set(cpu_info().get("flags", "").split())
    return "mixed_bfloat16" if bf16 and onednn_enabled() else "float32"


def onednn_enabled() -> bool:
    """Whether TensorFlow runs its oneDNN CPU kernels (bfloat16 convolutions need them to be fast)."""
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "") not in ("0", "false", "False")
