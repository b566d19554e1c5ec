"""The paper's conditional GAN (pix2pix-style): its losses and update order live here and nowhere else:

    each batch:  one discriminator update  (sigmoid cross-entropy: real -> 1 or 0.9, fake -> 0)
                 two generator updates     (-log D(x, G(x))  +  l1_weight * mean |G(x) - y|)

The generator has not changed between the discriminator update and the first generator update, so
that update reuses the discriminator's G(x) (same forward pass, gradient taken through the updated
discriminator) instead of computing it again: the same algorithm, one generator forward pass less
per batch. Losses and colour maths are float32 whatever the mixed-precision policy of the layers.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from tfcolor.models.colorizer import Colorizer, descend, global_batch_share

SMOOTHED_REAL_LABEL = 0.9


def sigmoid_cross_entropy(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Mean sigmoid cross-entropy of logits. Keras's BinaryCrossentropy would divide by the number of
    replicas by itself under tf.distribute; this stays the plain mean, and `global_batch_share` scales."""
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


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
        return [*self.loss_trackers.values(), *self.confidence_metrics, *self.quality_metrics]

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
        self.train_confidence(l_scaled, color_true)
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
