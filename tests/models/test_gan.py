import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import photo_crops
from tfcolor.config import ModelConfig, RunConfig, TrainConfig
from tfcolor.data import color
from tfcolor.models import factory, gan, networks, optimizers

TINY = ModelConfig(generator_filters=(8, 16, 32), generator_dropout=(0.0, 0.0), discriminator_filters=(8, 16, 16, 16))


def tiny_config(**train_overrides) -> RunConfig:
    train = dataclasses.replace(TrainConfig(), lr=2e-3, lr_decay=False, **train_overrides)
    return RunConfig(model=TINY, train=train)


def fixed_batch(space="lab"):
    return color.encode(photo_crops(8), space)


def _l1(model, batch):
    # Batch statistics (training=True): after 25 steps BN's moving averages have not caught up yet.
    l_scaled, ab_scaled = batch
    return float(tf.reduce_mean(tf.abs(model.generator(l_scaled, training=True) - ab_scaled)))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gan", "unet"])
def test_a_few_steps_lower_l1_on_a_fixed_batch(kind):
    keras.utils.set_random_seed(0)
    config = tiny_config()
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, model=kind))
    model = factory.build_colorizer(config)
    batch = fixed_batch()
    before = _l1(model, batch)
    model.fit(tf.data.Dataset.from_tensors(batch).repeat(25), epochs=1, verbose=0)
    after = _l1(model, batch)
    assert after < 0.8 * before
    assert int(model.trained_batches.numpy()) == 25


def test_one_discriminator_update_then_two_generator_updates_per_batch():
    model = factory.build_colorizer(tiny_config())
    logs = model.train_step(fixed_batch())
    assert int(model.d_optimizer.iterations.numpy()) == 1
    assert int(model.g_optimizer.iterations.numpy()) == 2
    assert {"d_loss", "d_real", "d_fake", "g_loss", "g_gan", "g_l1", "accuracy", "psnr", "auc"} <= set(logs)
    assert float(logs["g_loss"]) == pytest.approx(float(logs["g_gan"]) + 100.0 * float(logs["g_l1"]), rel=1e-5)


def test_label_smoothing_targets_point_nine_for_real_pairs():
    model = factory.build_colorizer(tiny_config(label_smoothing=True))
    assert model.real_label == 0.9
    assert factory.build_colorizer(tiny_config()).real_label == 1.0


def test_discriminator_learning_rate_is_a_tenth_and_beta1_is_zero():
    model = factory.build_colorizer(RunConfig(model=TINY))
    assert float(model.g_optimizer.learning_rate) == pytest.approx(3e-4)
    assert float(model.d_optimizer.learning_rate) == pytest.approx(3e-5)
    assert model.g_optimizer.beta_1 == 0.0 and model.d_optimizer.beta_1 == 0.0


def test_decay_counts_training_batches_and_has_a_floor():
    schedule = optimizers.FlooredExponentialDecay(3e-4, decay_steps=100, decay_rate=0.1, updates_per_batch=2)
    assert float(schedule(200)) == pytest.approx(3e-5)  # 200 generator updates = 100 batches
    assert float(schedule(10_000)) == pytest.approx(1e-6)
    clone = optimizers.FlooredExponentialDecay.from_config(schedule.get_config())
    assert float(clone(200)) == pytest.approx(3e-5)


def test_rgb_colour_space_predicts_three_channels():
    config = dataclasses.replace(tiny_config(), data=dataclasses.replace(RunConfig().data, color_space="rgb"))
    model = factory.build_colorizer(config)
    logs = model.train_step(fixed_batch("rgb"))
    assert model.generator.output_shape[-1] == 3 and np.isfinite(float(logs["g_loss"]))


def test_call_takes_l_of_any_size_and_returns_rgb_or_lab():
    model = factory.build_colorizer(tiny_config())
    l_scaled = tf.random.uniform((2, 21, 35, 1), -1, 1)
    rgb = model(l_scaled)
    assert rgb.shape == (2, 21, 35, 3) and 0.0 <= float(tf.reduce_min(rgb)) <= float(tf.reduce_max(rgb)) <= 1.0
    model.output_space = "lab"
    lab = model.predict(l_scaled, verbose=0)
    np.testing.assert_allclose(lab[..., 0], (l_scaled.numpy()[..., 0] + 1) * 50, atol=1e-4)


def test_model_config_round_trips():
    model = gan.ColorizationGAN(
        networks.build_generator((8, 16), (0.0,)), networks.build_discriminator((8, 8, 8, 8)), l1_weight=10.0,
        label_smoothing=True, size_multiple=2,
    )
    clone = gan.ColorizationGAN.from_config(model.get_config())
    assert clone.l1_weight == 10.0 and clone.label_smoothing and clone.size_multiple == 2
    assert clone.generator.count_params() == model.generator.count_params()


@pytest.mark.slow
def test_train_step_compiles_with_xla():
    model = factory.build_colorizer(tiny_config(), jit_compile=True)
    history = model.fit(tf.data.Dataset.from_tensors(fixed_batch()).repeat(2), epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][-1])


@pytest.mark.parametrize("kind", ["gan", "unet"])
def test_validation_l1_is_the_mean_over_images_when_the_set_length_is_unknown(kind):
    # Skipped images make the validation set's length unknown (a filter); Keras then runs one step
    # past its end, and a tracker fed one scalar per batch could count that empty step as a zero
    # (and weighed the last, smaller batch like a full one).
    config = tiny_config()
    model = factory.build_colorizer(dataclasses.replace(config, model=dataclasses.replace(config.model, model=kind)))
    l_scaled, ab_scaled = fixed_batch()
    validation = tf.data.Dataset.from_tensor_slices((l_scaled, ab_scaled)).filter(lambda *_: True).batch(3).prefetch(2)
    assert int(validation.cardinality()) == int(tf.data.UNKNOWN_CARDINALITY)
    per_image = tf.reduce_mean(tf.abs(model.generator(l_scaled, training=False) - ab_scaled), axis=[1, 2, 3])
    logs = model.evaluate(validation, return_dict=True, verbose=0)
    assert logs["l1"] == pytest.approx(float(tf.reduce_mean(per_image)), rel=1e-5)


@pytest.mark.slow
def test_float16_loss_scaling_skips_an_injected_inf_and_recovers():
    model = factory.build_colorizer(tiny_config(), precision="mixed_float16")
    assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.generator.get_layer("encoder1_conv").compute_dtype == "float16"
    assert model.generator.output.dtype == "float32" and model.discriminator.output.dtype == "float32"
    batch = fixed_batch()
    model.train_step(batch)

    def weights():
        return [v.numpy() for v in model.generator.trainable_variables + model.discriminator.trainable_variables]

    # A loss scale of 2**100 is finite in float32 but overflows every float16 gradient to inf.
    injected = 2.0**100
    model.g_optimizer.dynamic_scale.assign(injected)
    model.d_optimizer.dynamic_scale.assign(injected)
    before = weights()
    logs = model.train_step(batch)
    assert np.isfinite(float(logs["g_loss"]))  # the losses themselves are fine; the gradients are not
    for old, new in zip(before, weights()):
        np.testing.assert_array_equal(old, new)  # every update of the step was skipped
    assert float(model.g_optimizer.dynamic_scale) == injected / 4  # halved at each of the two G updates
    assert float(model.d_optimizer.dynamic_scale) == injected / 2

    for _ in range(60):  # halving each skipped update, the scale comes back down to where gradients fit
        model.train_step(batch)
        if any(not np.array_equal(old, new) for old, new in zip(before, weights())):
            break
    recovered = weights()
    assert any(not np.array_equal(old, new) for old, new in zip(before, recovered)), "never recovered"
    assert all(np.isfinite(v).all() for v in recovered)
    assert float(model.g_optimizer.dynamic_scale) < 2.0**40


def test_bfloat16_computes_in_bfloat16_and_keeps_float32_weights_and_outputs():
    model = factory.build_colorizer(tiny_config(), precision="mixed_bfloat16")
    assert model.generator.get_layer("encoder1_conv").compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in model.generator.weights)
    logs = model.train_step(fixed_batch())
    assert np.isfinite(float(logs["g_loss"])) and model.generator(fixed_batch()[0]).dtype == tf.float32


def test_fused_adam_matches_keras_adam():
    keras.utils.set_random_seed(0)
    variables = [keras.Variable(np.random.default_rng(i).normal(size=(3, 4)).astype("float32")) for i in range(2)]
    twins = [keras.Variable(v.numpy()) for v in variables]
    fused, plain = optimizers.FusedAdam(1e-2, beta_1=0.0), keras.optimizers.Adam(1e-2, beta_1=0.0)
    for step in range(3):
        gradients = [tf.constant(np.random.default_rng(10 + step).normal(size=(3, 4)).astype("float32")) for _ in variables]
        fused.apply_gradients(zip(gradients, variables))
        plain.apply_gradients(zip(gradients, twins))
    for a, b in zip(variables, twins):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
