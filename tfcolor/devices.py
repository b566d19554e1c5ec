"""Where and how a run executes: which GPUs, XLA or not.

Settings are resolved here from the config's words (`auto`, `on`, ...) and the machine, so the
rest of the code receives plain decisions.
"""
from __future__ import annotations

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
