"""What the GAN and the U-Net baseline share: the generator, inference at any size, validation and metrics.

Both see `l_scaled` `(batch, H, W, 1)` and predict the colour channels in [-1, 1] (ab for Lab, RGB
for the `rgb` colour space). Losses and colour maths are float32 whatever the mixed-precision
policy of the layers.

Under `tf.distribute` each replica sees its share of the global batch; every loss is that share's
mean, and each replica descends on `global_batch_share(loss)` (the mean divided by the number of
replicas): the optimizers sum the replicas' gradients, which then are the gradients of the mean over
the global batch, the L1 term included, as on one device.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from tfcolor.data import color
from tfcolor.models import networks
from tfcolor.models.metrics import PSNR, ABErrorAUC, PixelAccuracy

OUTPUT_SPACES = ("rgb", "lab")


def global_batch_share(loss: tf.Tensor) -> tf.Tensor:
    """This replica's part of the loss over the global batch: its mean over the number of replicas."""
    return loss / tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, loss.dtype)


def descend(optimizer: keras.optimizers.Optimizer, tape: tf.GradientTape, scaled_loss: tf.Tensor,
            network: keras.Model) -> None:
    """One optimizer step on `network`'s weights from a loss already passed through `optimizer.scale_loss`
    (the identity without loss scaling; the loss-scale optimizer divides the gradients back)."""
    variables = network.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(scaled_loss, variables), variables))


@keras.saving.register_keras_serializable(package="tfcolor")
class Colorizer(keras.Model):
    """What both models share: the generator, inference on any size, validation and quality metrics.

    Args:
        generator: `(batch, H, W, 1)` -> `(batch, H, W, 2 or 3)`, H and W multiples of `size_multiple`.
        color_space: `lab` or `rgb`, the space the generator's outputs are in.
        acc_thresh: threshold of the original code's pixel accuracy.
        output_space: what `call`/`predict` return: `rgb` (float [0, 1]) or `lab` (L 0..100, ab).
        ema_decay: when above 0, `ema_generator` keeps an exponential moving average of the
            generator's weights (batch-norm statistics included), updated after every batch; it is
            the `inference_generator` that validates, samples, colorizes and is exported.
        confidence: `networks.build_confidence`, or None: when given, every prediction is the
            generator's colour times the trust this network puts in it, and each training batch also
            fits it (`train_confidence`) to the colorizing generator's output of that batch.
        flip_average: predict each image and its mirror image and average them.
    """

    def __init__(self, generator: keras.Model, color_space: str = "lab", acc_thresh: float = 2.0,
                 size_multiple: int = 16, output_space: str = "rgb", ema_decay: float = 0.0,
                 confidence: keras.Model | None = None, flip_average: bool = False, **kwargs):
        super().__init__(**kwargs)
        color.check_color_space(color_space)
        if output_space not in OUTPUT_SPACES:
            raise ValueError(f"Unknown output space {output_space!r}; expected one of {OUTPUT_SPACES}.")
        self.generator = generator
        self.color_space = color_space
        self.acc_thresh = float(acc_thresh)
        self.size_multiple = int(size_multiple)
        self.output_space = output_space
        self.trained_batches = self.add_weight(shape=(), initializer="zeros", dtype="int64", trainable=False,
                                               aggregation="only_first_replica", name="trained_batches")
        self.accuracy_metric = PixelAccuracy(acc_thresh, name="accuracy")
        self.psnr_metric = PSNR(name="psnr")
        self.auc_metric = ABErrorAUC(name="auc")
        self.l1_tracker = keras.metrics.Mean(name="l1")
        self.ema_decay = float(ema_decay)
        self.logs_as_vectors = False
        self.ema_generator = None
        if self.ema_decay:
            self.ema_generator = keras.models.clone_model(generator)
            self.reset_ema()
        if confidence is not None and color_space != "lab":
            raise ValueError("A confidence network moves a*b* towards neutral: it needs the lab colour space.")
        self.confidence = confidence
        self.flip_average = bool(flip_average)
        self.c_optimizer = None
        self.confidence_tracker = keras.metrics.Mean(name="c_loss")

    @property
    def inference_generator(self) -> keras.Model:
        """The generator that colorizes: the moving average of the weights when there is one."""
        return self.generator if self.ema_generator is None else self.ema_generator

    @property
    def inference_networks(self) -> list[keras.Model]:
        """Every network a prediction runs: what an export holds and an inference restore loads."""
        return [self.inference_generator] + ([self.confidence] if self.confidence is not None else [])

    def reset_ema(self) -> None:
        """Start the average at the current weights."""
        for average, weight in zip(self.ema_generator.weights, self.generator.weights, strict=True):
            average.assign(weight)

    def update_ema(self) -> None:
        """Move the average towards the current weights. Early on the decay is lower, (1 + t) / (10 + t)
        at batch t as in tf.train.ExponentialMovingAverage, so a short run's average is not its start."""
        if self.ema_generator is None:
            return
        batches = tf.cast(self.trained_batches, tf.float32)
        decay = tf.minimum(self.ema_decay, (1.0 + batches) / (10.0 + batches))
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * weight)

    @property
    def quality_metrics(self) -> list[keras.metrics.Metric]:
        return [self.l1_tracker, self.accuracy_metric, self.psnr_metric, self.auc_metric]

    @property
    def confidence_metrics(self) -> list[keras.metrics.Metric]:
        return [self.confidence_tracker] if self.confidence is not None else []

    def trusted(self, l_scaled: tf.Tensor, color_pred: tf.Tensor, training: bool = False) -> tf.Tensor:
        """`color_pred` scaled by the confidence network's trust in it (unchanged without one)."""
        if self.confidence is None:
            return color_pred
        return color_pred * self.confidence(tf.concat([l_scaled, color_pred], axis=-1), training=training)

    def _predict_padded(self, padded: tf.Tensor, training: bool) -> tf.Tensor:
        return self.trusted(padded, self.inference_generator(padded, training=training), training=training)

    def predict_color(self, l_scaled: tf.Tensor, training: bool = False) -> tf.Tensor:
        """The colour the model gives `l_scaled` at any H, W: pads to `size_multiple`, predicts (with
        the confidence network, and averaged with the mirror image's where set), crops back."""
        height, width = tf.shape(l_scaled)[1], tf.shape(l_scaled)[2]
        padded = networks.pad_to_multiple(l_scaled, self.size_multiple)
        predicted = self._predict_padded(padded, training)
        if self.flip_average:
            # Padding is bottom/right, so the mirror is padded afresh and mirrored back before cropping.
            mirrored = networks.pad_to_multiple(tf.reverse(l_scaled, axis=[2]), self.size_multiple)
            back = tf.reverse(networks.crop_to(self._predict_padded(mirrored, training), height, width), axis=[2])
            return (networks.crop_to(predicted, height, width) + back) / 2.0
        return networks.crop_to(predicted, height, width)

    def attach_confidence_optimizer(self, optimizer: keras.optimizers.Optimizer) -> None:
        """The optimizer `train_confidence` descends with; built now so a checkpoint restores into it."""
        self.c_optimizer = optimizer
        self.c_optimizer.build(self.confidence.trainable_variables)

    def train_confidence(self, l_scaled: tf.Tensor, color_true: tf.Tensor) -> None:
        """One step of the confidence network: the trust t minimising mean (t * colour - truth)^2, where
        colour is what the colorizing generator (the moving average where kept) paints this batch. Its
        gradient stops at that colour: the generator learns nothing from it."""
        if self.confidence is None:
            return
        color_pred = tf.stop_gradient(self.inference_generator(l_scaled, training=False))
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self.trusted(l_scaled, color_pred, training=True) - color_true))
            scaled_loss = self.c_optimizer.scale_loss(global_batch_share(loss))
        descend(self.c_optimizer, tape, scaled_loss, self.confidence)
        self.confidence_tracker.update_state(loss)

    def call(self, l_scaled, training=False):
        """`l_scaled` `(batch, H, W, 1)` -> colorized `(batch, H, W, 3)` in `output_space`."""
        predicted = self.predict_color(l_scaled, training=training)
        if self.output_space == "lab":
            return color.to_lab(l_scaled, predicted, self.color_space)
        return color.to_rgb(l_scaled, predicted, self.color_space)

    def update_quality(self, l_scaled, color_true, color_pred) -> None:
        # One value per image, not per batch: the mean then weighs images equally, and the empty
        # step Keras runs past the end of a validation set of unknown length adds nothing.
        self.l1_tracker.update_state(tf.reduce_mean(tf.abs(color_pred - color_true), axis=[1, 2, 3]))
        lab_true = color.to_lab(l_scaled, color_true, self.color_space)
        lab_pred = color.to_lab(l_scaled, color_pred, self.color_space)
        for metric in (self.accuracy_metric, self.psnr_metric, self.auc_metric):
            metric.update_state(lab_true, lab_pred)

    def step_logs(self, metrics: list[keras.metrics.Metric]) -> dict[str, tf.Tensor]:
        """The metrics' values after a step. Keras 3 averages a multi-worker cluster's step logs along
        axis 0, which scalars do not have (tensorflow/tensorflow#72388): there they go as vectors of one
        (`logs_as_vectors`, set by the training runtime for such a cluster)."""
        logs = {m.name: m.result() for m in metrics}
        if self.logs_as_vectors:
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    def test_step(self, data):
        l_scaled, color_true = data
        self.update_quality(l_scaled, color_true, self.predict_color(l_scaled))
        return self.step_logs(self.quality_metrics)

    def get_config(self):
        return {
            "generator": keras.saving.serialize_keras_object(self.generator),
            "color_space": self.color_space, "acc_thresh": self.acc_thresh,
            "size_multiple": self.size_multiple, "output_space": self.output_space, "ema_decay": self.ema_decay,
            "confidence": None if self.confidence is None else keras.saving.serialize_keras_object(self.confidence),
            "flip_average": self.flip_average,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator", "confidence"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
