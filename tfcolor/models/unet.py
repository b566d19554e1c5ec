"""The paper's baseline: the same U-Net trained with the L1 loss alone."""
from __future__ import annotations

import keras
import tensorflow as tf

from tfcolor.models.colorizer import Colorizer, descend, global_batch_share


@keras.saving.register_keras_serializable(package="tfcolor")
class UNetColorizer(Colorizer):
    """The paper's baseline: the same U-Net trained with the L1 loss alone."""

    def compile(self, optimizer: keras.optimizers.Optimizer, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer = optimizer
        self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return [*self.confidence_metrics, *self.quality_metrics]

    def train_step(self, data):
        l_scaled, color_true = data
        with tf.GradientTape() as tape:
            color_pred = self.generator(l_scaled, training=True)
            loss = tf.reduce_mean(tf.abs(color_pred - color_true))
            scaled_loss = self.g_optimizer.scale_loss(global_batch_share(loss))
        descend(self.g_optimizer, tape, scaled_loss, self.generator)
        self.trained_batches.assign_add(1)
        self.update_ema()
        self.train_confidence(l_scaled, color_true)
        self.update_quality(l_scaled, color_true, color_pred)
        return self.step_logs(self.metrics)
