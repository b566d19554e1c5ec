"""The colorization models: the paper's conditional GAN and its plain U-Net (L1 only) baseline.

Both see `l_scaled` `(batch, H, W, 1)` and predict the colour channels in [-1, 1] (ab for Lab, RGB
for the `rgb` colour space). Losses and the update order live here and nowhere else:

    each batch:  one discriminator update  (sigmoid cross-entropy: real -> 1 or 0.9, fake -> 0)
                 two generator updates     (-log D(x, G(x))  +  l1_weight * mean |G(x) - y|)

The generator has not changed between the discriminator update and the first generator update, so
that update reuses the discriminator's G(x) (same forward pass, gradient taken through the updated
discriminator) instead of computing it again: the same algorithm, one generator forward pass less
per batch. Losses and colour maths are float32 whatever the mixed-precision policy of the layers.

Under `tf.distribute` each replica sees its share of the global batch; every loss here is that
share's mean, and each replica descends on `global_batch_share(loss)` (the mean divided by the number
of replicas): the optimizers sum the replicas' gradients, which then are the gradients of the mean
over the global batch, the L1 term included, as on one device.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from tfcolor import color, distribution, networks
from tfcolor.config import RunConfig, network_depth
from tfcolor.metrics import ABErrorAUC, PixelAccuracy, PSNR
from tfcolor.optimizers import make_optimizer

SMOOTHED_REAL_LABEL = 0.9
OUTPUT_SPACES = ("rgb", "lab")


def sigmoid_cross_entropy(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Mean sigmoid cross-entropy of logits. Keras's BinaryCrossentropy would divide by the number of
    replicas by itself under tf.distribute; this stays the plain mean, and `global_batch_share` scales."""
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def global_batch_share(loss: tf.Tensor) -> tf.Tensor:
    """This replica's part of the loss over the global batch: its mean over the number of replicas."""
    return loss / tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, loss.dtype)


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
    """

    def __init__(self, generator: keras.Model, color_space: str = "lab", acc_thresh: float = 2.0,
                 size_multiple: int = 16, output_space: str = "rgb", ema_decay: float = 0.0, **kwargs):
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
        self.ema_generator = None
        if self.ema_decay:
            self.ema_generator = keras.models.clone_model(generator)
            self.reset_ema()

    @property
    def inference_generator(self) -> keras.Model:
        """The generator that colorizes: the moving average of the weights when there is one."""
        return self.generator if self.ema_generator is None else self.ema_generator

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

    def predict_color(self, l_scaled: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Generator output for any H, W: pads to `size_multiple`, predicts, crops back."""
        height, width = tf.shape(l_scaled)[1], tf.shape(l_scaled)[2]
        padded = networks.pad_to_multiple(l_scaled, self.size_multiple)
        return networks.crop_to(self.inference_generator(padded, training=training), height, width)

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
        axis 0, which scalars do not have (tensorflow/tensorflow#72388): there they go as vectors of one."""
        logs = {m.name: m.result() for m in metrics}
        if distribution.is_multi_worker(tf.distribute.get_strategy()):
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    def test_step(self, data):
        l_scaled, color_true = data
        self.update_quality(l_scaled, color_true, self.inference_generator(l_scaled, training=False))
        return self.step_logs(self.quality_metrics)

    def get_config(self):
        return {
            "generator": keras.saving.serialize_keras_object(self.generator),
            "color_space": self.color_space, "acc_thresh": self.acc_thresh,
            "size_multiple": self.size_multiple, "output_space": self.output_space, "ema_decay": self.ema_decay,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            if key in config:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@keras.saving.register_keras_serializable(package="tfcolor")
class UNetColorizer(Colorizer):
    """The paper's baseline: the same U-Net trained with the L1 loss alone."""

    def compile(self, optimizer: keras.optimizers.Optimizer, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer = optimizer
        self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return self.quality_metrics

    def train_step(self, data):
        l_scaled, color_true = data
        with tf.GradientTape() as tape:
            color_pred = self.generator(l_scaled, training=True)
            loss = tf.reduce_mean(tf.abs(color_pred - color_true))
            scaled_loss = self.g_optimizer.scale_loss(global_batch_share(loss))
        descend(self.g_optimizer, tape, scaled_loss, self.generator)
        self.trained_batches.assign_add(1)
        self.update_ema()
        self.update_quality(l_scaled, color_true, color_pred)
        return self.step_logs(self.metrics)


@keras.saving.register_keras_serializable(package="tfcolor")
class ColorizationGAN(Colorizer):
    """The paper's conditional GAN (pix2pix-style) with the non-saturating loss plus `l1_weight` * L1.

    Args:
        discriminator: PatchGAN on `concat(l_scaled, colour)` -> logits `(batch, h, w, 1)`.
        l1_weight: lambda of the L1 term (the original code's 100).
        label_smoothing: one-sided, real label 0.9 instead of 1.
        generator_updates: generator updates per discriminator update (the original code's 2).
        Other arguments as for `Colorizer`.

    Example:
        >>> gan = ColorizationGAN(networks.build_generator(), networks.build_discriminator())
        >>> gan.compile(g_optimizer=make_optimizer(3e-4, 0.0, False, 0.1, 1),
        ...             d_optimizer=make_optimizer(3e-5, 0.0, False, 0.1, 1))
        >>> gan.fit(dataset_of_l_scaled_and_ab_scaled, epochs=1)  # doctest: +SKIP
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, l1_weight: float = 100.0,
                 label_smoothing: bool = False, generator_updates: int = 2, **kwargs):
        super().__init__(generator, **kwargs)
        self.discriminator = discriminator
        self.l1_weight = float(l1_weight)
        self.label_smoothing = bool(label_smoothing)
        if int(generator_updates) < 1:
            raise ValueError(f"generator_updates: at least 1 generator update per batch, got {generator_updates}")
        self.generator_updates = int(generator_updates)
        self.real_label = SMOOTHED_REAL_LABEL if label_smoothing else 1.0
        self.loss_trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("d_loss", "d_real", "d_fake", "g_loss", "g_gan", "g_l1")
        }

    def compile(self, g_optimizer: keras.optimizers.Optimizer, d_optimizer: keras.optimizers.Optimizer, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        # Built now, not on the first step, so a checkpoint can be restored before training resumes.
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self):
        return [*self.loss_trackers.values(), *self.quality_metrics]

    def discriminate(self, l_scaled, color_channels, training=True):
        return self.discriminator(tf.concat([l_scaled, color_channels], axis=-1), training=training)

    def discriminator_losses(self, l_scaled: tf.Tensor, color_true: tf.Tensor, color_fake: tf.Tensor
                             ) -> tuple[tf.Tensor, tf.Tensor]:
        """(d_real, d_fake): real pairs -> the real label (1, or 0.9 smoothed), generated pairs -> 0."""
        real_logits = self.discriminate(l_scaled, color_true)
        fake_logits = self.discriminate(l_scaled, color_fake)
        d_real = sigmoid_cross_entropy(tf.fill(tf.shape(real_logits), self.real_label), real_logits)
        d_fake = sigmoid_cross_entropy(tf.zeros_like(fake_logits), fake_logits)
        return d_real, d_fake

    def generator_losses(self, l_scaled: tf.Tensor, color_true: tf.Tensor, color_fake: tf.Tensor
                         ) -> tuple[tf.Tensor, tf.Tensor]:
        """(g_gan, g_l1): the non-saturating -log D(x, G(x)) and mean |G(x) - y|."""
        fake_logits = self.discriminate(l_scaled, color_fake)
        g_gan = sigmoid_cross_entropy(tf.ones_like(fake_logits), fake_logits)
        g_l1 = tf.reduce_mean(tf.abs(color_fake - color_true))
        return g_gan, g_l1

    def train_step(self, data):
        l_scaled, color_true = data
        with tf.GradientTape() as g_tape:
            color_fake = self.generator(l_scaled, training=True)

            # 1) Discriminator: real pairs -> real label, generated pairs -> 0 (on a tape of its own;
            #    the generator's tape records none of it).
            with g_tape.stop_recording():
                with tf.GradientTape() as d_tape:
                    d_real, d_fake = self.discriminator_losses(l_scaled, color_true, color_fake)
                    d_loss = d_real + d_fake
                    scaled_d_loss = self.d_optimizer.scale_loss(global_batch_share(d_loss))
                descend(self.d_optimizer, d_tape, scaled_d_loss, self.discriminator)

            # 2) Generator, first update: the same G(x), judged by the updated discriminator.
            g_gan, g_l1 = self.generator_losses(l_scaled, color_true, color_fake)
            g_loss = g_gan + self.l1_weight * g_l1
            scaled_g_loss = self.g_optimizer.scale_loss(global_batch_share(g_loss))
        descend(self.g_optimizer, g_tape, scaled_g_loss, self.generator)

        # 2) Generator, the other `generator_updates - 1` updates: non-saturating GAN loss + l1_weight * L1.
        for _ in range(self.generator_updates - 1):
            with tf.GradientTape() as g_tape:
                color_fake = self.generator(l_scaled, training=True)
                g_gan, g_l1 = self.generator_losses(l_scaled, color_true, color_fake)
                g_loss = g_gan + self.l1_weight * g_l1
                scaled_g_loss = self.g_optimizer.scale_loss(global_batch_share(g_loss))
            descend(self.g_optimizer, g_tape, scaled_g_loss, self.generator)

        self.trained_batches.assign_add(1)
        self.update_ema()
        for name, value in (("d_loss", d_loss), ("d_real", d_real), ("d_fake", d_fake),
                            ("g_loss", g_loss), ("g_gan", g_gan), ("g_l1", g_l1)):
            self.loss_trackers[name].update_state(value)
        self.update_quality(l_scaled, color_true, color_fake)
        return self.step_logs(self.metrics)

    def get_config(self):
        return {
            **super().get_config(),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "l1_weight": self.l1_weight, "label_smoothing": self.label_smoothing,
            "generator_updates": self.generator_updates,
        }


def descend(optimizer: keras.optimizers.Optimizer, tape: tf.GradientTape, scaled_loss: tf.Tensor,
            network: keras.Model) -> None:
    """One optimizer step on `network`'s weights from a loss already passed through `optimizer.scale_loss`
    (the identity without loss scaling; the loss-scale optimizer divides the gradients back)."""
    variables = network.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(scaled_loss, variables), variables))


def build_colorizer(config: RunConfig, jit_compile: bool = False, precision: str = "float32") -> Colorizer:
    """The compiled model a run config describes (`gan` or the `unet` baseline).

    Args:
        precision: `float32`, or a Keras mixed-precision policy (`mixed_float16`, which adds dynamic
            loss scaling, or `mixed_bfloat16`) for every layer but the float32 outputs. Weights are
            float32 under all of them, so a checkpoint restores into a model of any precision.
            Inference (colorize, evaluate, export) builds float32 models.

    Built inside a `tf.distribute` strategy's scope with more than one replica, batch-norm is
    synchronized across the replicas.

    Raises:
        ConfigError: the config is invalid (an unknown model name among others).
    """
    config.validate(needs_dataset=False)
    train = config.train
    channels = color.output_channels(config.data.color_space)
    common = dict(
        color_space=config.data.color_space, acc_thresh=train.acc_thresh,
        size_multiple=2 ** network_depth(config.model), ema_decay=train.ema_decay,
    )
    layer_dtype = None if precision == "float32" else precision
    synchronized_bn = tf.distribute.get_strategy().num_replicas_in_sync > 1
    generator = networks.generator_from_config(config.model, channels, layer_dtype, synchronized_bn)
    decay = dict(decay=train.lr_decay, decay_rate=train.lr_decay_rate, decay_steps=train.lr_decay_steps,
                 loss_scaling=precision == "mixed_float16")
    if config.model.model == "unet":
        model = UNetColorizer(generator, **common)
        model.compile(optimizer=make_optimizer(train.lr, train.beta1, **decay), jit_compile=jit_compile)
        return model
    assert config.model.model == "gan", "validate() admits only the models built here"
    model = ColorizationGAN(
        generator, networks.discriminator_from_config(config.model, channels, layer_dtype, synchronized_bn),
        l1_weight=train.l1_weight, label_smoothing=train.label_smoothing, **common,
    )
    model.compile(
        g_optimizer=make_optimizer(train.lr, train.beta1, updates_per_batch=model.generator_updates, **decay),
        d_optimizer=make_optimizer(train.lr / 10.0, train.beta1, **decay),
        jit_compile=jit_compile,
    )
    return model
