"""Bringing a*b* from the model's size to the photo's: bilinear bleeds across a luminance edge, guided keeps each
colour on its side; both run in graphs of unknown size and leave a photo at the model's size alone."""
import numpy as np
import pytest
import tensorflow as tf

from tfcolor.models import upsampling

# A photo 160 px wide whose lightness steps from 30 to 70 at column 77, a blue-ish colour left of the step and
# a red one right of it, seen by the model at a tenth of its size (the step falls inside a model pixel).
HEIGHT, WIDTH, EDGE, RATIO = 48, 160, 77, 10
LEFT_AB, RIGHT_AB = (-20.0, -40.0), (50.0, 30.0)


def edge_photo() -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(ab at the model's size, full-resolution L, full-resolution ab) of the synthetic edge."""
    left = np.arange(WIDTH) < EDGE
    lightness = np.broadcast_to(np.where(left, 30.0, 70.0)[None, :, None], (HEIGHT, WIDTH, 1))
    ab = np.broadcast_to(np.where(left[:, None], LEFT_AB, RIGHT_AB)[None], (HEIGHT, WIDTH, 2))
    ab = tf.constant(ab, tf.float32)
    ab_small = tf.image.resize(ab, [HEIGHT // RATIO, WIDTH // RATIO], antialias=True)
    return ab_small, tf.constant(lightness, tf.float32), ab


def colour_error(method: str) -> np.ndarray:
    """Per-column ab distance from the true colour along the middle row."""
    ab_small, lightness, ab = edge_photo()
    upsampled = upsampling.upsample_ab(ab_small, lightness, method)
    return np.linalg.norm((upsampled - ab).numpy(), axis=-1)[HEIGHT // 2]


def test_guided_keeps_colour_on_its_side_of_a_luminance_edge_where_bilinear_bleeds():
    bilinear, guided = colour_error("bilinear"), colour_error("guided")
    beside = np.r_[0:EDGE - 2, EDGE + 2:WIDTH]  # every column at least 2 photo pixels from the step
    # Bilinear spreads the step over about one model pixel (10 photo pixels) each side: the colours are
    # 72 ab apart, so columns near the step are tens of units off.
    assert bilinear[beside].max() > 30 and (bilinear[beside] > 5).sum() >= RATIO
    # Guided: no column 2 px from the step is off by more than a just-noticeable amount, and the photo as a
    # whole has a fifth of bilinear's colour error or less.
    assert guided[beside].max() < 7
    assert guided.mean() < bilinear.mean() / 5


def test_both_methods_run_in_a_graph_of_unknown_size_and_leave_flat_colour_alone():
    @tf.function(input_signature=[tf.TensorSpec([None, None, 2], tf.float32), tf.TensorSpec([None, None, 1], tf.float32)])
    def guided(ab_small, lightness):
        return upsampling.upsample_ab(ab_small, lightness, "guided")

    @tf.function(input_signature=[tf.TensorSpec([None, None, 2], tf.float32), tf.TensorSpec([None, None, 1], tf.float32)])
    def bilinear(ab_small, lightness):
        return upsampling.upsample_ab(ab_small, lightness, "bilinear")

    rng = np.random.default_rng(0)
    for small_shape, full_shape in [((8, 12), (61, 90)), ((5, 5), (5, 5)), ((16, 9), (7, 4))]:
        lightness = tf.constant(rng.uniform(0, 100, (*full_shape, 1)), tf.float32)
        flat = tf.fill([*small_shape, 2], 25.0)
        for function in (guided, bilinear):
            upsampled = function(flat, lightness).numpy()
            assert upsampled.shape == (*full_shape, 2)
            # One colour everywhere stays that colour, whatever the lightness does (float32 rounding aside).
            np.testing.assert_allclose(upsampled, 25.0, atol=1e-3)


def test_a_photo_at_the_model_size_gets_its_colour_unchanged_and_bilinear_is_plain_resizing():
    rng = np.random.default_rng(1)
    ab_small = tf.constant(rng.uniform(-60, 60, (9, 14, 2)), tf.float32)
    same_size = tf.constant(rng.uniform(0, 100, (9, 14, 1)), tf.float32)
    for method in upsampling.METHODS:
        np.testing.assert_array_equal(upsampling.upsample_ab(ab_small, same_size, method).numpy(), ab_small.numpy())
    larger = tf.zeros([40, 51, 1])
    np.testing.assert_array_equal(upsampling.upsample_ab(ab_small, larger, "bilinear").numpy(),
                                  tf.image.resize(ab_small, [40, 51], method="bilinear").numpy())


def test_an_unknown_method_is_refused_naming_the_flag_and_the_choices():
    with pytest.raises(ValueError, match=r"--upsample.*'bilinear', 'guided'"):
        upsampling.upsample_ab(tf.zeros([2, 2, 2]), tf.zeros([4, 4, 1]), "bicubic")
