"""Which `tf.distribute` strategy a run trains under, and which of its workers writes what.

`--strategy auto` picks `MultiWorkerMirroredStrategy` when `TF_CONFIG` names a cluster of several
tasks, `MirroredStrategy` when more than one GPU is visible, else the default (one device).
`--batch-size` is the global batch whatever the strategy; each replica gets its share.

In a multi-worker run the chief (task `chief`, or `worker` 0 when there is no chief) writes the run
directory: checkpoints, TensorBoard logs, sample grids, `config.json`. The other workers must still
take part in every checkpoint save (TensorFlow's multi-worker Keras guide), so they save into a
temporary folder of their own, removed when training ends.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import tensorflow as tf

from tfcolor.config_rules import STRATEGIES, ConfigError

__all__ = ["STRATEGIES", "cluster_tasks", "make_strategy", "is_chief", "worker_name", "checkpoint_dir",
           "replicas", "is_multi_worker"]


def cluster_tasks(tf_config: str | None = None) -> int:
    """The number of tasks (chief and workers) `TF_CONFIG` names; 0 without a cluster."""
    text = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not text.strip():
        return 0
    try:
        cluster = json.loads(text).get("cluster", {})
    except (json.JSONDecodeError, AttributeError) as error:
        raise ConfigError(f"TF_CONFIG is not the JSON object TensorFlow expects: {error}") from None
    return sum(len(cluster.get(role, [])) for role in ("chief", "worker"))


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy `--strategy NAME` asks for (see the module docstring for `auto`).

    Create it first thing, before any other TensorFlow op: the multi-worker strategy starts the
    worker's gRPC server and fixes the collective ops' configuration.

    Raises:
        ConfigError: an unknown name, or `multi-worker` without a `TF_CONFIG` cluster.
    """
    if name not in STRATEGIES:
        raise ConfigError(f"--strategy {name!r}: expected one of {', '.join(STRATEGIES)}")
    if name == "auto":
        if cluster_tasks() > 1:
            name = "multi-worker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "multi-worker":
        if cluster_tasks() < 1:
            raise ConfigError("--strategy multi-worker needs TF_CONFIG naming the cluster and this task "
                             "(README: Training on several GPUs / machines)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def replicas(strategy: tf.distribute.Strategy) -> int:
    return strategy.num_replicas_in_sync


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    """A strategy spanning several processes (a multi-worker strategy created with a `TF_CONFIG` cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        resolver and resolver.cluster_spec().as_dict())


def _task(strategy: tf.distribute.Strategy) -> tuple[str | None, int | None, bool]:
    """(task type, task id, does the cluster have a chief task)."""
    if not is_multi_worker(strategy):
        return None, None, False
    resolver = strategy.cluster_resolver
    return resolver.task_type, resolver.task_id, "chief" in resolver.cluster_spec().as_dict()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Does this process write the run directory? Always, outside a multi-worker cluster."""
    task_type, task_id, has_chief = _task(strategy)
    return task_type is None or task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)


def worker_name(strategy: tf.distribute.Strategy) -> str:
    task_type, task_id, _ = _task(strategy)
    return "single" if task_type is None else f"{task_type}-{task_id}"


@contextmanager
def checkpoint_dir(run_dir: Path, strategy: tf.distribute.Strategy) -> Iterator[Path]:
    """Where this process saves checkpoints: the run's own folder for the chief, a temporary folder
    (deleted on leaving the block) for the other workers."""
    if is_chief(strategy):
        yield run_dir
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"tfcolor-{worker_name(strategy)}-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
