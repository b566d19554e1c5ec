import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import photo_crops
from tfcolor.config import NETWORK_PRESETS, filters_for_depth
from tfcolor.data import color
from tfcolor.models import networks

KERNEL_AREA = 16


def _conv(c_in, c_out, kernel_area=KERNEL_AREA):
    return kernel_area * c_in * c_out + c_out


def expected_unet_params(filters, output_channels):
    """Parameter count of the seed's U-Net, from its layer table alone (BN: 4 per channel)."""
    total, c_in = 0, 1
    for f in filters:
        total += _conv(c_in, f) + 4 * f
        c_in = f
    for f in reversed(filters[:-1]):
        total += _conv(c_in, f) + 4 * f
        c_in = 2 * f  # concatenated with the mirrored encoder output of the same width
    return total + _conv(c_in, output_channels, kernel_area=1)


def expected_patchgan_params(filters, input_channels=3):
    total, c_in = 0, input_channels
    for index, f in enumerate(filters):
        total += _conv(c_in, f) + (4 * f if index else 0)
        c_in = f
    return total + _conv(c_in, 1)


@pytest.mark.parametrize("preset", ["cifar10", "places365", "demo"])
def test_parameter_counts_follow_the_seed_tables(preset):
    model = NETWORK_PRESETS[preset]
    generator = networks.generator_from_config(model, 2)
    discriminator = networks.discriminator_from_config(model, 2)
    assert generator.count_params() == expected_unet_params(model.generator_filters, 2)
    assert discriminator.count_params() == expected_patchgan_params(model.discriminator_filters)


def test_seed_tables_are_the_published_ones():
    assert NETWORK_PRESETS["cifar10"].generator_filters == (64, 128, 256, 512, 512)
    assert NETWORK_PRESETS["cifar10"].generator_dropout == (0.5, 0.5, 0.0, 0.0)
    assert NETWORK_PRESETS["places365"].generator_filters == (64, 64, 128, 256, 512, 512, 512, 512)
    assert NETWORK_PRESETS["places365"].discriminator_filters == (64, 128, 256, 512)
    assert filters_for_depth(64, 4) == NETWORK_PRESETS["cifar10"].generator_filters


def test_cifar10_layer_shapes():
    generator = networks.generator_from_config(NETWORK_PRESETS["cifar10"], 2)
    probe = keras.Model(generator.input, [generator.get_layer(f"encoder{i}_lrelu").output for i in range(5)])
    shapes = [tuple(t.shape[1:]) for t in probe(tf.zeros((1, 32, 32, 1)))]
    assert shapes == [(32, 32, 64), (16, 16, 128), (8, 8, 256), (4, 4, 512), (2, 2, 512)]
    assert generator(tf.zeros((2, 32, 32, 1))).shape == (2, 32, 32, 2)
    discriminator = networks.discriminator_from_config(NETWORK_PRESETS["cifar10"], 2)
    assert discriminator(tf.zeros((2, 32, 32, 3))).shape == (2, 4, 4, 1)


def test_places365_shapes():
    model = NETWORK_PRESETS["places365"]
    assert model.depth == 7
    assert networks.generator_from_config(model, 3)(tf.zeros((1, 256, 256, 1))).shape == (1, 256, 256, 3)
    assert networks.discriminator_from_config(model, 2)(tf.zeros((1, 256, 256, 3))).shape == (1, 32, 32, 1)


def test_generator_outputs_are_in_tanh_range_and_serializable():
    generator = networks.build_generator((8, 16, 32), (0.5, 0.0))
    output = generator(tf.random.normal((2, 16, 16, 1)) * 10).numpy()
    assert np.abs(output).max() <= 1.0
    clone = keras.Model.from_config(generator.get_config())
    assert clone.count_params() == generator.count_params()


@pytest.mark.parametrize("preset", ["cifar10", "places365"])
def test_an_untrained_generator_starts_near_gray_not_saturated(preset):
    # With N(0, 0.02) kernels the tanh starts in its linear range; Keras's default (Glorot) init
    # saturated it (|ab| ~ 1, vanishing gradients) and the first epochs went to undoing that.
    keras.utils.set_random_seed(0)
    generator = networks.generator_from_config(NETWORK_PRESETS[preset], output_channels=2)
    l_scaled, _ = color.encode(photo_crops(4, size=128), "lab")
    output = generator(l_scaled, training=True).numpy()
    assert np.abs(output).max() < 0.9
    assert np.abs(output).mean() < 0.25


def test_wrong_dropout_table_is_rejected():
    with pytest.raises(ValueError, match="one dropout rate per decoder unit"):
        networks.build_generator((8, 16, 32), (0.5,))


def test_pad_and_crop_restore_odd_sizes():
    images = tf.random.uniform((1, 33, 47, 1))
    padded = networks.pad_to_multiple(images, 16)
    assert padded.shape == (1, 48, 48, 1)
    np.testing.assert_array_equal(networks.crop_to(padded, 33, 47).numpy(), images.numpy())
    tiny = tf.random.uniform((1, 2, 3, 1))
    assert networks.pad_to_multiple(tiny, 16).shape == (1, 16, 16, 1)
