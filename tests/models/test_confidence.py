"""The learnt confidence and flip averaging: what they do to a prediction, how the confidence learns,
and that the exported signatures and `tfcolor.colorize` use them."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import export
from tests.helpers import photo_crops, save_image
from tfcolor import colorize, config, train
from tfcolor.models import networks
from tfcolor.models.colorizer import Colorizer
from tfcolor.models.optimizers import make_optimizer
from tfcolor.training import checkpoints

TINY = {"base_filters": 8, "depth": 2, "batch_size": 8, "demo_patches": 16, "precision": "float32",
        "validate": False, "sample": False}


def set_output_bias(network: tf.keras.Model, layer: str, values) -> None:
    """Zero the last layer's kernel and set its bias: the network then outputs a constant."""
    kernel, bias = network.get_layer(layer).weights
    kernel.assign(tf.zeros_like(kernel))
    bias.assign(tf.constant(values, tf.float32))


def colorizer(confidence: bool, flip_average: bool = False) -> Colorizer:
    return Colorizer(networks.build_generator((8, 16, 16), (0.0, 0.0)), size_multiple=4,
                     confidence=networks.build_confidence() if confidence else None, flip_average=flip_average)


def test_the_prediction_is_the_generators_colour_times_the_trust():
    model = colorizer(confidence=True)
    set_output_bias(model.generator, "output", [0.6, -0.4])  # tanh: a = 0.537, b = -0.380 everywhere
    l_scaled = tf.random.stateless_uniform((2, 12, 20, 1), (1, 2), -1.0, 1.0)
    for logit, trust in ((-30.0, 0.0), (0.0, 0.5), (30.0, 1.0)):
        set_output_bias(model.confidence, "output", [logit])  # trust = (1 + tanh(logit)) / 2
        predicted = model.predict_color(l_scaled).numpy()
        np.testing.assert_allclose(predicted[..., 0], trust * np.tanh(0.6), atol=1e-6)
        np.testing.assert_allclose(predicted[..., 1], trust * np.tanh(-0.4), atol=1e-6)


def test_the_confidence_learns_to_fade_a_colour_that_is_wrong_and_leaves_the_generator_alone():
    model = colorizer(confidence=True)
    set_output_bias(model.generator, "output", [0.5, 0.5])  # always a strong colour
    model.attach_confidence_optimizer(make_optimizer(1e-2, 0.0, decay=False, decay_rate=0.1, decay_steps=1))
    generator_weights = [w.numpy() for w in model.generator.weights]
    l_scaled = tf.random.stateless_uniform((8, 16, 16, 1), (3, 4), -1.0, 1.0)
    truth = tf.zeros((8, 16, 16, 2))  # the photos are gray: the colour is always wrong
    trust = lambda: float(tf.reduce_mean(model.confidence(tf.concat(  # noqa: E731
        [l_scaled, model.generator(l_scaled)], -1))))
    start = trust()
    for _ in range(60):
        model.train_confidence(l_scaled, truth)
    assert trust() < 0.2 < start
    assert all(np.array_equal(before, after.numpy()) for before, after in zip(generator_weights, model.generator.weights))


def test_flip_averaging_averages_the_prediction_and_its_mirror_images_at_any_width():
    model = colorizer(confidence=False, flip_average=True)
    plain = colorizer(confidence=False)
    plain.generator.set_weights(model.generator.get_weights())
    l_scaled = tf.random.stateless_uniform((1, 13, 37, 1), (5, 6), -1.0, 1.0)  # padded to 16 x 40 inside
    once = plain.predict_color(l_scaled)
    mirrored = tf.reverse(plain.predict_color(tf.reverse(l_scaled, [2])), [2])
    assert not np.allclose(once.numpy(), mirrored.numpy(), atol=1e-4)  # a random network is not symmetric
    np.testing.assert_allclose(model.predict_color(l_scaled).numpy(), ((once + mirrored) / 2).numpy(), atol=1e-6)


def test_confidence_needs_lab():
    with pytest.raises(config.ConfigError, match=r"model.confidence \(--confidence\): expected the lab colour space"):
        config.resolve({"confidence": True, "color_space": "rgb"})


def test_a_network_preset_keeps_the_confidence_setting():
    settings = config.resolve({"network": "demo", "confidence": True, "model": "unet"})
    assert settings.model.confidence and settings.model.network_preset == "demo" and settings.model.model == "unet"


def is_gray(rgb: np.ndarray) -> bool:
    rgb = rgb.astype(int)
    return int(np.abs(rgb - rgb.mean(axis=-1, keepdims=True)).max()) <= 2


@pytest.mark.slow
def test_the_export_and_colorize_apply_the_trust_of_the_trained_run(tmp_path):
    run = tmp_path / "run"
    train.train(config.resolve({**TINY, "confidence": True, "max_steps": 2}), run, report=lambda _: None)
    _, model = checkpoints.load_trained_model(run)
    set_output_bias(model.inference_generator, "output", [0.8, 0.6])  # a strong orange
    save_image(tmp_path / "in" / "photo.png", photo_crops(1, size=40)[0])
    results = {}
    for name, logit in (("trusted", 30.0), ("distrusted", -30.0)):
        set_output_bias(model.confidence, "output", [logit])
        step = 10 if name == "trusted" else 20
        checkpoints.checkpoint_manager(model, run).save(checkpoint_number=step)
        colorize.colorize_paths(run, tmp_path / "in", tmp_path / name)
        results[name] = [np.asarray(Image.open(next((tmp_path / name).rglob("*.png"))).convert("RGB"))]
    # The export of the distrusting checkpoint (the newest) serves gray where colorize wrote gray.
    version = export.export_run(run, tmp_path / "models" / "tfcolor")
    signature = tf.saved_model.load(str(version)).signatures["serving_default"]
    served = signature(image_bytes=tf.constant([(tmp_path / "in" / "photo.png").read_bytes()]))
    assert not is_gray(results["trusted"][0])
    assert is_gray(results["distrusted"][0]) and is_gray(tf.io.decode_png(served["colorized_bytes"][0]).numpy())
