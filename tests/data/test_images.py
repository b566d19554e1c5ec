"""Reading an image's size from its header, and refusing photos over the pixel limit before decoding."""
from __future__ import annotations

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from serving.devserver_process import flat_png
from tfcolor.data import images

FORMATS = [("JPEG", {}), ("PNG", {}), ("GIF", {}), ("BMP", {}), ("WEBP", {"lossless": False}),
           ("WEBP", {"lossless": True})]


def encode(array: np.ndarray, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(("fmt", "options"), FORMATS)
def test_encoded_size_reads_height_and_width_from_the_header(fmt, options):
    array = np.random.default_rng(0).integers(0, 255, (37, 53, 3), np.uint8)
    size = images.encoded_size(tf.constant(encode(array, fmt, **options)))
    assert size.numpy().tolist() == [37, 53]


def test_encoded_size_of_extended_webp_and_rgba_png():
    rgba = np.random.default_rng(1).integers(0, 255, (41, 29, 4), np.uint8)
    for fmt in ("WEBP", "PNG"):
        assert images.encoded_size(tf.constant(encode(rgba, fmt))).numpy().tolist() == [41, 29]


def test_unknown_bytes_have_no_size_and_decoding_refuses_them():
    assert images.encoded_size(tf.constant(b"not an image")).numpy().tolist() == [0, 0]
    assert images.encoded_size(tf.constant(b"")).numpy().tolist() == [0, 0]


def test_check_pixels_refuses_a_bomb_in_a_graph_before_decoding():
    bomb = flat_png(9000, 9000)
    check = tf.function(lambda contents: images.decode_rgb(images.check_pixels(contents, images.DEFAULT_MAX_PIXELS)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="image is 9000x9000 = 81000000 pixels, over the limit of 50000000"):
        check(tf.constant(bomb))
    small = encode(np.zeros((8, 8, 3), np.uint8), "PNG")
    assert check(tf.constant(small)).shape == (8, 8, 3)


def test_over_pixel_limit_gives_the_reason_for_command_line_tools():
    photo = encode(np.zeros((30, 40, 3), np.uint8), "JPEG")
    assert images.over_pixel_limit(photo, 1200) is None
    assert images.over_pixel_limit(photo, 1199) == "image is 30x40 = 1200 pixels, over the limit of 1199 pixels"
