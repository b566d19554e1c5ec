"""Optimisers as the original code configures them: Adam (beta1 = 0 by default), a floored exponential
learning-rate decay, and, for float16 mixed precision, dynamic loss scaling around them."""
from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfcolor")
class FlooredExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """`lr * rate ** (batches / decay_steps)`, never below `floor` (the original code's decay).

    `updates_per_batch` converts the optimizer's own step count into training batches, so the
    generator (two updates a batch) and the discriminator (one) decay on the same clock.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 floor: float = 1e-6, updates_per_batch: int = 1):
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = int(decay_steps)
        self.decay_rate = float(decay_rate)
        self.floor = float(floor)
        self.updates_per_batch = int(updates_per_batch)

    def __call__(self, step):
        batches = tf.cast(step, tf.float32) / self.updates_per_batch
        decayed = self.initial_learning_rate * tf.pow(self.decay_rate, batches / self.decay_steps)
        return tf.maximum(decayed, self.floor)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate, "floor": self.floor, "updates_per_batch": self.updates_per_batch,
        }


@keras.saving.register_keras_serializable(package="tfcolor")
class FusedAdam(keras.optimizers.Adam):
    """Keras's Adam, each variable's update done by TensorFlow's fused `ApplyAdam` kernel.

    The same arithmetic as `keras.optimizers.Adam` (same slots, so checkpoints are interchangeable),
    in one pass over each variable instead of Keras's separate element-wise ops: on the 16.7M weights
    of the CIFAR-10 generator it measured 11 ms an update against 34 ms (benchmarks/RESULTS.md).
    """

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].handle, v=self._velocities[index].handle,
            beta1_power=tf.pow(tf.cast(self.beta_1, dtype), step), beta2_power=tf.pow(tf.cast(self.beta_2, dtype), step),
            lr=tf.cast(learning_rate, dtype), beta1=tf.cast(self.beta_1, dtype), beta2=tf.cast(self.beta_2, dtype),
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype),
        )
        return None


def make_optimizer(lr: float, beta1: float, decay: bool, decay_rate: float, decay_steps: int,
                   updates_per_batch: int = 1, loss_scaling: bool = False) -> keras.optimizers.Optimizer:
    """Adam as the original code configures it (beta1 = 0 by default) with the floored exponential decay.

    `loss_scaling` wraps it in Keras's dynamic `LossScaleOptimizer` (float16 mixed precision): the
    train step multiplies each loss by the scale (`scale_loss`), and `apply_gradients` divides the
    gradients back, skipping the update and halving the scale when any gradient is not finite.
    """
    schedule = FlooredExponentialDecay(lr, decay_steps, decay_rate, updates_per_batch=updates_per_batch) if decay else lr
    adam = FusedAdam(learning_rate=schedule, beta_1=beta1)
    return keras.optimizers.LossScaleOptimizer(adam) if loss_scaling else adam


def checkpointed(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """The optimizer whose state a checkpoint keeps: Adam itself, also when loss scaling wraps it, so a
    run resumes under another precision (the dynamic scale starts afresh; it adapts in a few steps)."""
    return optimizer.inner_optimizer if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) else optimizer


def learning_rates(model: keras.Model) -> dict[str, float]:
    """Current learning rate of each optimizer, for logging. A constant rate is a variable, mirrored under a
    multi-worker strategy, which `float()` refuses: it goes through NumPy."""
    optimizers = {"g_lr": getattr(model, "g_optimizer", None), "d_lr": getattr(model, "d_optimizer", None)}
    return {name: float(keras.ops.convert_to_numpy(opt.learning_rate)) for name, opt in optimizers.items()
            if opt is not None}
