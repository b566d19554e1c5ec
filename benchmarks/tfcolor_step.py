"""One measurement of tfcolor's training step, in this process (`benchmarks.train_throughput` runs it alone).

    python -m benchmarks.tfcolor_step [--preset cifar10] [--precision auto] [--jit-compile off] [--batch-size 64] [--steps 10]
                                      [--replicas 1] [--remapper off]

`ColorizationGAN` of a preset (cifar10 by default) trained through `model.fit` on random Lab-scaled data,
as `python -m tfcolor.train` runs it. Prints one JSON line: images/s over `--steps` batches after two
warm-up batches (timed between batch ends, as the peer times its loop), the resolved precision, whether
oneDNN is on, the step's FLOPs per image (TensorFlow's own count of the traced step) and the share of a
step the training batches' quality metrics take. `--replicas N` trains under a `MirroredStrategy` over N
devices: the GPUs when there are N, else the CPU split into N logical devices (`--batch-size` stays the
global batch).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)

# isort: split
import keras
import tensorflow as tf
from tensorflow.python.profiler import model_analyzer, option_builder
from tensorflow.python.util import _pywrap_util_port

from tfcolor import config
from tfcolor.models import colorizer, factory
from tfcolor.training import runtime

WARM_UP_STEPS = 2


class BatchClock(keras.callbacks.Callback):
    """When each batch ended: steady-state step time, without `fit`'s start-up and teardown."""

    def __init__(self):
        super().__init__()
        self.ends: list[float] = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def step_flops(model: colorizer.Colorizer, batch: tuple[tf.Tensor, tf.Tensor]) -> float:
    """TensorFlow's count of floating-point operations in one traced train step (convolutions and
    their gradients, matrix products)."""
    specs = tuple(tf.TensorSpec(t.shape, t.dtype) for t in batch)
    graph = tf.function(model.train_step).get_concrete_function(specs).graph
    options = option_builder.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return float(model_analyzer.profile(graph, options=options).total_float_ops)


def seconds_per_call(function, repeats: int) -> float:
    function()
    start = time.perf_counter()
    for _ in range(repeats):
        result = function()
    tf.nest.map_structure(lambda t: t.numpy(), result)
    return (time.perf_counter() - start) / repeats


def replicated(count: int) -> tf.distribute.Strategy:
    """The default strategy for 1; else a MirroredStrategy over `count` GPUs, or `count` logical CPU devices."""
    if count == 1:
        return tf.distribute.get_strategy()
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) < count:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    return runtime.make_strategy("mirrored")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cifar10", choices=sorted(config.PRESETS))
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--no-flops", action="store_true", help="skip counting the step's FLOPs")
    parser.add_argument("--jit-compile", default="off")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=1, help="devices of a MirroredStrategy (1: none)")
    parser.add_argument("--remapper", choices=("off", "on"), default="off",
                        help="Grappler's remapper: off as training runs (runtime.without_failing_remapper), "
                             "on as TensorFlow's default")
    args = parser.parse_args()
    if args.remapper == "off":
        runtime.without_failing_remapper()
    strategy = replicated(args.replicas)
    keras.utils.set_random_seed(0)
    preset = config.PRESETS[args.preset]
    train = dataclasses.replace(preset.train, precision=args.precision, jit_compile=args.jit_compile,
                                batch_size=args.batch_size)
    settings = dataclasses.replace(preset, train=train).validate(needs_dataset=False)  # random data: no path
    precision = runtime.resolve_precision(settings.train.precision)
    with strategy.scope():
        model = factory.build_colorizer(settings, jit_compile=runtime.use_xla(settings.train.jit_compile), precision=precision)
    size = settings.data.image_size
    batch = (tf.random.uniform((args.batch_size, size, size, 1), -1.0, 1.0),
             tf.random.uniform((args.batch_size, size, size, 2), -1.0, 1.0))
    data = tf.data.Dataset.from_tensors(batch).repeat()
    clock = BatchClock()
    start = time.perf_counter()
    with runtime.fitting(model, strategy):
        model.fit(data, steps_per_epoch=WARM_UP_STEPS + args.steps, epochs=1, verbose=0, shuffle=False,
                  callbacks=[clock])
    first = clock.ends[0] - start
    step_seconds = (clock.ends[-1] - clock.ends[WARM_UP_STEPS - 1]) / args.steps

    prediction = model.generator(batch[0], training=False)
    quality = tf.function(lambda: (model.update_quality(*batch, prediction), model.accuracy_metric.result())[1])
    one_device = strategy.num_replicas_in_sync == 1  # the metrics' share is measured outside any strategy
    print(json.dumps({
        "first_step_s": first, "images_per_s": args.batch_size / step_seconds, "precision": precision,
        "onednn": bool(_pywrap_util_port.IsMklEnabled()), "xla": runtime.use_xla(settings.train.jit_compile),
        "gflop_per_image": None if args.no_flops or not one_device else step_flops(model, batch) / args.batch_size / 1e9,
        "metrics_share": seconds_per_call(quality, 20) / step_seconds if one_device else None,
        "replicas": strategy.num_replicas_in_sync,
    }))


if __name__ == "__main__":
    main()
