"""Lightness-only augmentation: the lightness the network sees varies, the colours it must predict do not.

A corpus's exposure habits (one photographer's contrast, one scanner's gamma) are a shortcut: a model
can learn "this lightness profile means sepia" instead of "this texture means grass". Each training
image's L gets its own gamma, contrast about its mean and Gaussian noise, drawn from a stateless seed
(so a resumed run draws what an uninterrupted one would); its a*b* target is left exactly as it was.
"""
from __future__ import annotations

import math

import tensorflow as tf

# Ranges per image: gamma and contrast log-uniform in [1/1.25, 1.25], noise sigma uniform in [0, 0.02]
# of the lightness range (0 to 2 L units).
GAMMA_RANGE = 1.25
CONTRAST_RANGE = 1.25
MAX_NOISE = 0.02


def _log_uniform(shape: tf.Tensor, seed: tf.Tensor, spread: float) -> tf.Tensor:
    return tf.exp(tf.random.stateless_uniform(shape, seed, -math.log(spread), math.log(spread)))


def augment_lightness(l_scaled: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """`l_scaled` `(batch, H, W, 1)` in [-1, 1] -> the same shape, each image's lightness changed by its own
    gamma, contrast and noise drawn from the stateless seed pair `seed`; clipped to [-1, 1]."""
    gamma_seed, contrast_seed, sigma_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
    per_image = tf.stack([tf.shape(l_scaled)[0], 1, 1, 1])
    lightness = (tf.cast(l_scaled, tf.float32) + 1.0) / 2.0
    lightness = tf.pow(tf.clip_by_value(lightness, 0.0, 1.0), _log_uniform(per_image, gamma_seed, GAMMA_RANGE))
    mean = tf.reduce_mean(lightness, axis=[1, 2, 3], keepdims=True)
    lightness = mean + (lightness - mean) * _log_uniform(per_image, contrast_seed, CONTRAST_RANGE)
    sigma = tf.random.stateless_uniform(per_image, sigma_seed, 0.0, MAX_NOISE)
    lightness += sigma * tf.random.stateless_normal(tf.shape(lightness), noise_seed)
    return tf.clip_by_value(lightness, 0.0, 1.0) * 2.0 - 1.0
