import numpy as np
import pytest
import tensorflow as tf
from skimage import color as skcolor
from skimage import data as skdata

from tfcolor.data import color


@pytest.mark.parametrize("photo", ["astronaut", "coffee", "chelsea"])
def test_rgb_to_lab_matches_scikit_image_on_real_photos(photo):
    rgb = getattr(skdata, photo)()
    np.testing.assert_allclose(color.rgb_to_lab(rgb).numpy(), skcolor.rgb2lab(rgb), atol=0.05)


def test_rgb_to_lab_matches_scikit_image_on_random_batches():
    rgb = np.random.default_rng(0).random((3, 17, 9, 3)).astype(np.float32)
    lab = color.rgb_to_lab(rgb).numpy()
    assert lab.shape == (3, 17, 9, 3)
    np.testing.assert_allclose(lab, skcolor.rgb2lab(rgb), atol=0.05)


def test_lab_to_rgb_matches_scikit_image():
    lab = skcolor.rgb2lab(skdata.astronaut()[::4, ::4])
    np.testing.assert_allclose(color.lab_to_rgb(lab).numpy(), skcolor.lab2rgb(lab), atol=1e-4)


def test_known_values_of_primaries():
    lab = color.rgb_to_lab(tf.constant([[255, 0, 0], [255, 255, 255], [0, 0, 0]], tf.uint8)).numpy()
    np.testing.assert_allclose(lab[0], [53.24, 80.09, 67.20], atol=0.01)
    np.testing.assert_allclose(lab[1], [100.0, 0.0, 0.0], atol=0.01)
    np.testing.assert_allclose(lab[2], [0.0, 0.0, 0.0], atol=0.01)


def test_round_trip_within_one_level():
    rgb = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    back = color.lab_to_rgb(color.rgb_to_lab(rgb)).numpy()
    assert np.abs(back * 255.0 - rgb).max() <= 1.0


def test_uint8_and_float_inputs_agree():
    rgb = skdata.coffee()[:16, :16]
    np.testing.assert_allclose(color.rgb_to_lab(rgb).numpy(), color.rgb_to_lab(rgb / 255.0).numpy(), atol=1e-3)


def test_lab_scaling_round_trip_and_range():
    lab = color.rgb_to_lab(np.random.default_rng(2).random((8, 8, 3)).astype(np.float32))
    l_scaled, ab_scaled = color.scale_lab(lab)
    assert l_scaled.shape[-1] == 1 and ab_scaled.shape[-1] == 2
    assert -1.0 <= float(tf.reduce_min(l_scaled)) and float(tf.reduce_max(l_scaled)) <= 1.0
    assert float(tf.reduce_max(tf.abs(ab_scaled))) <= 1.0
    np.testing.assert_allclose(color.unscale_lab(l_scaled, ab_scaled).numpy(), lab.numpy(), atol=1e-4)


@pytest.mark.parametrize("space, channels", [("lab", 2), ("rgb", 3)])
def test_encode_then_decode_restores_the_image(space, channels):
    rgb = skdata.astronaut()[100:132, 200:232] / 255.0
    inputs, targets = color.encode(rgb, space)
    assert inputs.shape == (32, 32, 1) and targets.shape == (32, 32, channels)
    assert color.output_channels(space) == channels
    np.testing.assert_allclose(color.to_rgb(inputs, targets, space).numpy(), rgb, atol=1.5 / 255)
    np.testing.assert_allclose(color.to_lab(inputs, targets, space).numpy(), skcolor.rgb2lab(rgb), atol=0.2)


def test_unknown_color_space_is_rejected():
    with pytest.raises(ValueError, match="hsv"):
        color.encode(np.zeros((2, 2, 3)), "hsv")
