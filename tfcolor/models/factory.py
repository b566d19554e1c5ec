"""The model a run config describes, built and compiled for training, or its generator alone for inference."""
from __future__ import annotations

import tensorflow as tf

from tfcolor.config import RunConfig
from tfcolor.data import color
from tfcolor.models import networks
from tfcolor.models.colorizer import Colorizer
from tfcolor.models.gan import ColorizationGAN
from tfcolor.models.optimizers import make_optimizer
from tfcolor.models.unet import UNetColorizer


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
    layer_dtype = None if precision == "float32" else precision
    synchronized_bn = tf.distribute.get_strategy().num_replicas_in_sync > 1
    common = dict(
        color_space=config.data.color_space, acc_thresh=train.acc_thresh,
        size_multiple=2 ** config.model.depth, ema_decay=train.ema_decay,
        confidence=networks.build_confidence(channels, layer_dtype, synchronized_bn) if config.model.confidence else None,
        flip_average=config.model.flip_average,
    )
    generator = networks.generator_from_config(config.model, channels, layer_dtype, synchronized_bn)
    decay = dict(decay=train.lr_decay, decay_rate=train.lr_decay_rate, decay_steps=train.lr_decay_steps,
                 loss_scaling=precision == "mixed_float16")
    if config.model.model == "unet":
        model = UNetColorizer(generator, **common)
        model.compile(optimizer=make_optimizer(train.lr, train.beta1, **decay), jit_compile=jit_compile)
        return _with_confidence_optimizer(model, config, decay)
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
    return _with_confidence_optimizer(model, config, decay)


def _with_confidence_optimizer(model: Colorizer, config: RunConfig, decay: dict) -> Colorizer:
    """The confidence network, where there is one, learns at the generator's rate and schedule."""
    if model.confidence is not None:
        model.attach_confidence_optimizer(make_optimizer(config.train.lr, config.train.beta1, **decay))
    return model


def build_inference_colorizer(config: RunConfig) -> Colorizer:
    """The float32 colorizer of a run config with its generator alone (no discriminator, optimizers or
    schedule): what colorizing, evaluating and exporting need. Its weights come from a checkpoint
    (`tfcolor.models.restoring`)."""
    config.validate(needs_dataset=False)
    channels = color.output_channels(config.data.color_space)
    generator = networks.generator_from_config(config.model, channels, None, False)
    confidence = networks.build_confidence(channels) if config.model.confidence else None
    return Colorizer(generator, color_space=config.data.color_space, acc_thresh=config.train.acc_thresh,
                     size_multiple=2 ** config.model.depth, confidence=confidence,
                     flip_average=config.model.flip_average)
