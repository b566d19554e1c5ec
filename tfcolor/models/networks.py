"""The original code's networks: a pix2pix U-Net generator and a PatchGAN discriminator (Keras functional).

Both are fully convolutional (`(batch, height, width, channels)` with free height and width), so one
set of weights serves 32x32 training patches and full-size photos; heights and widths must be
multiples of `2**depth`, which `pad_to_multiple`/`crop_to` arrange at inference.
"""
from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from tfcolor.config import ModelConfig

KERNEL_SIZE = 4
LEAKY_SLOPE = 0.2
KERNEL_STDDEV = 0.02


def _kernel_init() -> keras.initializers.Initializer:
    """N(0, 0.02) kernels, as the original (ImagingLab) code and pix2pix: the tanh output starts near gray (ab = 0)."""
    return keras.initializers.RandomNormal(0.0, KERNEL_STDDEV)


def _batch_norm(name: str, dtype: str | None, synchronized: bool) -> keras.layers.BatchNormalization:
    """Batch-norm; `synchronized` computes the statistics over the global batch of all replicas, so a
    run on several devices normalises as the seed's single-GPU run does (same variables either way)."""
    return keras.layers.BatchNormalization(name=name, dtype=dtype, synchronized=synchronized)


def _encoder_unit(x: keras.KerasTensor, filters: int, strides: int, batch_norm: bool, name: str,
                  dtype: str | None, synchronized_bn: bool = False) -> keras.KerasTensor:
    x = keras.layers.Conv2D(filters, KERNEL_SIZE, strides, padding="same", kernel_initializer=_kernel_init(),
                            name=f"{name}_conv", dtype=dtype)(x)
    if batch_norm:
        x = _batch_norm(f"{name}_bn", dtype, synchronized_bn)(x)
    return keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_lrelu", dtype=dtype)(x)


def build_generator(
    filters: Sequence[int] = (64, 128, 256, 512, 512),
    dropout: Sequence[float] = (0.5, 0.5, 0.0, 0.0),
    output_channels: int = 2,
    input_channels: int = 1,
    name: str = "generator",
    dtype: str | None = None,
    synchronized_bn: bool = False,
) -> keras.Model:
    """U-Net: `(batch, H, W, input_channels)` in [-1, 1] -> `(batch, H, W, output_channels)` in [-1, 1].

    Args:
        filters: encoder filters; the first unit has stride 1, every later one stride 2. The decoder
            mirrors `filters[:-1]` in reverse, each transposed conv doubling the resolution.
        dropout: one rate per decoder unit (0 for none); the original code drops 0.5 on the first two.
        output_channels: 2 for Lab (ab) or 3 for RGB.
        dtype: a Keras dtype policy for every layer but the last (e.g. `mixed_bfloat16`); the `tanh`
            output stays float32 whatever it is, so losses and colour maths see float32.
        synchronized_bn: batch-norm statistics over all replicas' batches (training on several devices).

    Example:
        >>> g = build_generator()  # the original code's CIFAR-10 U-Net
        >>> g(tf.zeros((1, 32, 32, 1))).shape
        TensorShape([1, 32, 32, 2])
    """
    decoder_filters = list(reversed(filters[:-1]))
    if len(dropout) != len(decoder_filters):
        raise ValueError(f"Need one dropout rate per decoder unit ({len(decoder_filters)}), got {len(dropout)}.")
    inputs = keras.Input((None, None, input_channels), name="l_scaled")
    x = inputs
    skips = []
    for index, unit_filters in enumerate(filters):
        x = _encoder_unit(x, unit_filters, 1 if index == 0 else 2, batch_norm=True, name=f"encoder{index}", dtype=dtype,
                          synchronized_bn=synchronized_bn)
        skips.append(x)
    for index, (unit_filters, rate) in enumerate(zip(decoder_filters, dropout)):
        x = keras.layers.Conv2DTranspose(unit_filters, KERNEL_SIZE, 2, padding="same", kernel_initializer=_kernel_init(),
                                         name=f"decoder{index}_deconv", dtype=dtype)(x)
        x = _batch_norm(f"decoder{index}_bn", dtype, synchronized_bn)(x)
        x = keras.layers.ReLU(name=f"decoder{index}_relu", dtype=dtype)(x)
        if rate:
            x = keras.layers.Dropout(rate, name=f"decoder{index}_dropout", dtype=dtype)(x)
        x = keras.layers.Concatenate(name=f"decoder{index}_skip", dtype=dtype)([skips[-index - 2], x])
    outputs = keras.layers.Conv2D(output_channels, 1, activation="tanh", kernel_initializer=_kernel_init(),
                                  name="output", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def build_discriminator(
    filters: Sequence[int] = (64, 128, 256, 512),
    strides: Sequence[int] = (2, 2, 2, 1),
    input_channels: int = 3,
    name: str = "discriminator",
    dtype: str | None = None,
    synchronized_bn: bool = False,
) -> keras.Model:
    """PatchGAN: L concatenated with colour `(batch, H, W, input_channels)` -> logits `(batch, h, w, 1)`.

    One logit per patch; batch-norm on every unit but the first, as in the original code. For 32x32 inputs
    and the default table the output is 4x4 patches; for 256x256, 32x32. The logits are float32
    whatever the `dtype` policy of the other layers; `synchronized_bn` as for `build_generator`.
    """
    inputs = keras.Input((None, None, input_channels), name="l_and_color")
    x = inputs
    for index, (unit_filters, unit_strides) in enumerate(zip(filters, strides, strict=True)):
        x = _encoder_unit(x, unit_filters, unit_strides, batch_norm=index > 0, name=f"unit{index}", dtype=dtype,
                          synchronized_bn=synchronized_bn)
    logits = keras.layers.Conv2D(1, KERNEL_SIZE, 1, padding="same", kernel_initializer=_kernel_init(),
                                 name="patch_logits", dtype="float32")(x)
    return keras.Model(inputs, logits, name=name)


CONFIDENCE_FILTERS = (32, 64, 128)


def build_confidence(color_channels: int = 2, dtype: str | None = None, synchronized_bn: bool = False) -> keras.Model:
    """A small U-Net: L and the predicted colour `(batch, H, W, 1 + color_channels)` -> trust in that colour
    `(batch, H, W, 1)` in [0, 1]. It sees the colour as well as the scene, so it can learn which colours
    the generator paints wrongly on which content; H and W multiples of 4."""
    net = build_generator(CONFIDENCE_FILTERS, (0.0,) * (len(CONFIDENCE_FILTERS) - 1), output_channels=1,
                          input_channels=1 + color_channels, name="confidence", dtype=dtype,
                          synchronized_bn=synchronized_bn)
    trust = keras.layers.Rescaling(0.5, offset=0.5, name="trust", dtype="float32")(net.output)
    return keras.Model(net.input, trust, name="confidence")


def generator_from_config(model: ModelConfig, output_channels: int, dtype: str | None = None,
                          synchronized_bn: bool = False) -> keras.Model:
    return build_generator(model.generator_filters, model.generator_dropout, output_channels, dtype=dtype,
                           synchronized_bn=synchronized_bn)


def discriminator_from_config(model: ModelConfig, output_channels: int, dtype: str | None = None,
                              synchronized_bn: bool = False) -> keras.Model:
    return build_discriminator(model.discriminator_filters, model.discriminator_strides, 1 + output_channels,
                               dtype=dtype, synchronized_bn=synchronized_bn)


def pad_to_multiple(images: tf.Tensor, multiple: int) -> tf.Tensor:
    """Reflect-pad `(batch, H, W, C)` on the bottom/right so H and W are multiples of `multiple`."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    pad_h = (multiple - height % multiple) % multiple
    pad_w = (multiple - width % multiple) % multiple
    paddings = [[0, 0], [0, pad_h], [0, pad_w], [0, 0]]
    # Mirroring needs pad <= size; images smaller than half a multiple are padded with zeros instead.
    return tf.cond(
        tf.logical_and(pad_h <= height, pad_w <= width),
        lambda: tf.pad(images, paddings, mode="SYMMETRIC"),
        lambda: tf.pad(images, paddings),
    )


def crop_to(images: tf.Tensor, height: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    """Undo `pad_to_multiple`: keep the top-left `height` x `width`."""
    return images[:, :height, :width, :]
