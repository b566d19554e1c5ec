"""Where and how a run executes: devices, XLA, precision and the `tf.distribute` strategy.

Settings are resolved here from the config's words (`auto`, `on`, ...) and the machine, so the rest
of the code receives plain decisions.

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import keras
import tensorflow as tf

from tfcolor.config.rules import STRATEGIES, ConfigError
from tfcolor.data.pipelines import Pipelines


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


def without_failing_remapper() -> None:
    """Turn Grappler's remapper off for the graphs traced from here on, before training traces its step.

    On the train step it fails on every oneDNN build of TensorFlow 2.21 seen: it fuses the
    discriminator's first Conv2D + BiasAdd + LeakyRelu (the one unit without batch-norm) into one
    op, though LeakyReluGrad still reads that BiasAdd's output (the generator's gradient through the
    discriminator), and logs `E... remapper failed: ... fanout ... LeakyReluGrad exist for missing node
    ... BiasAdd`. Grappler then drops the remapper's changes for the whole step, so turning it off
    costs the step nothing (benchmarks/RESULTS.md, "quiet start") and removes the error line. Only
    the validation and sample graphs of a training process lose its fusions; colorizing, evaluating,
    exporting and serving keep them."""
    tf.config.optimizer.set_experimental_options({"remapping": False})


def onednn_enabled() -> bool:
    """Whether TensorFlow runs its oneDNN CPU kernels (bfloat16 convolutions need them to be fast)."""
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "") not in ("0", "false", "False")


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
        # Every GPU; without GPUs, every logical CPU device (one, unless the process split the CPU).
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.MirroredStrategy([d.name for d in gpus or tf.config.list_logical_devices("CPU")])
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


def workers(strategy: tf.distribute.Strategy) -> int:
    """How many processes train together (1 outside a multi-worker cluster)."""
    if not is_multi_worker(strategy):
        return 1
    return sum(len(tasks) for role, tasks in strategy.cluster_resolver.cluster_spec().as_dict().items()
               if role in ("chief", "worker"))


def _sharded_by_data(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Every worker builds the same stream and keeps its share of each global batch."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def training_stream(strategy: tf.distribute.Strategy, pipelines: Pipelines, batch_size: int
                    ) -> Callable[[int], tf.data.Dataset | tf.distribute.DistributedDataset]:
    """step -> the training input from global step `step`, as `fit` takes it under `strategy`.

    One process: the global batches (Keras splits each over the local replicas). A cluster reading
    files: each worker's own stream (`Pipelines.shards_by_file`), cut into per-replica batches. A
    cluster reading arrays: the same global stream on every worker, sharded by data, so a global batch
    holds the images it would hold on one device.
    """
    if not is_multi_worker(strategy):
        return pipelines.train_from
    if not pipelines.shards_by_file:
        return lambda step: _sharded_by_data(pipelines.train_from(step))
    per_replica = batch_size // replicas(strategy)
    return lambda step: strategy.distribute_datasets_from_function(
        lambda context: pipelines.train_from(step, context.input_pipeline_id).rebatch(per_replica, drop_remainder=True))


def validation_data(strategy: tf.distribute.Strategy, pipelines: Pipelines, batch_size: int
                    ) -> tuple[tf.data.Dataset | None, int | None]:
    """(validation data, validation steps) for `fit`. In a cluster every replica must run the same number
    of steps on a non-empty share, so there the set is repeated in whole global batches and cut at
    `validation_examples // batch_size` of them (at least one; images skipped as corrupt or grayscale,
    and the last partial batch, are made up by the first images again)."""
    if pipelines.validation is None or not is_multi_worker(strategy):
        return pipelines.validation, None
    whole_batches = pipelines.validation.unbatch().repeat().batch(batch_size, drop_remainder=True)
    return _sharded_by_data(whole_batches), max(1, pipelines.validation_examples // batch_size)


@contextmanager
def fitting(model: keras.Model, strategy: tf.distribute.Strategy) -> Iterator[None]:
    """The context `model.fit` runs in: the strategy's scope.

    Keras 3.15 starts `fit` on a model built under a multi-worker strategy by averaging the first
    batch across replicas for a "symbolic build", which fails on that strategy (`Attempt to convert a
    value (PerReplica...)`). The model is built already, so that step is skipped there: Keras then
    takes the strategy from the scope. There too the step logs go as vectors of one
    (`Colorizer.logs_as_vectors`, see `step_logs`).
    """
    with strategy.scope():
        if is_multi_worker(strategy):
            model._distribute_strategy = None
            model.logs_as_vectors = True
        yield
