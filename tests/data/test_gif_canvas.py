"""A GIF is measured by its largest frame, as TensorFlow decodes it, not by its logical screen."""
import io
import struct

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfcolor.data import images
from tfcolor.data.gif_canvas import MAX_GIF_BLOCKS


def gif(width: int, height: int, frames: int = 1, screen: tuple[int, int] | None = None) -> bytes:
    pictures = [Image.fromarray(np.full((height, width), i % 2 * 255, np.uint8)).convert("P") for i in range(frames)]
    buffer = io.BytesIO()
    pictures[0].save(buffer, "GIF", save_all=frames > 1, append_images=pictures[1:])
    data = bytearray(buffer.getvalue())
    if screen:
        data[6:10] = struct.pack("<HH", *screen)
    return bytes(data)


def test_a_frame_larger_than_the_logical_screen_is_measured_at_the_size_tensorflow_decodes():
    forged = gif(600, 400, screen=(16, 16))
    decoded = tf.io.decode_image(forged, expand_animations=False)
    assert decoded.shape[:2] == (400, 600)  # the decoder's canvas is the frame's, not the screen's
    assert images.encoded_size(tf.constant(forged)).numpy().tolist() == [400, 600]
    with pytest.raises(tf.errors.InvalidArgumentError, match="image is 400x600 = 240000 pixels, over the limit of 1000"):
        tf.function(lambda c: images.check_pixels(c, 1000))(tf.constant(forged))
    assert images.over_pixel_limit(forged, 1000) == "image is 400x600 = 240000 pixels, over the limit of 1000 pixels"


def test_an_animated_gif_is_measured_by_its_frames_and_an_honest_one_by_its_screen():
    assert images.encoded_size(tf.constant(gif(70, 30, frames=12))).numpy().tolist() == [30, 70]
    assert images.encoded_size(tf.constant(gif(5, 9))).numpy().tolist() == [9, 5]


def test_a_gif_with_more_blocks_than_can_be_walked_is_refused_before_decoding():
    honest = gif(8, 8)
    comment = b"\x21\xfe" + b"\x01a" * MAX_GIF_BLOCKS + b"\x00"  # a valid comment of one-byte sub-blocks
    fragmented = honest[:-1] + comment + honest[-1:]
    assert images.encoded_size(tf.constant(fragmented)).numpy().tolist() == [-1, -1]
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"GIF has more than {MAX_GIF_BLOCKS} blocks"):
        tf.function(lambda c: images.check_pixels(c, 10**9))(tf.constant(fragmented))
    assert "re-encode it" in images.over_pixel_limit(fragmented, 10**9)
    rgb, oversized = images.decode_within_limit(tf.constant(fragmented), None, 10**9)
    assert bool(oversized) and rgb.shape == (1, 1, 3)


def test_a_truncated_gif_is_measured_without_reading_past_its_end():
    truncated = gif(40, 20)[:30]
    assert images.encoded_size(tf.constant(truncated)).numpy().tolist() == [20, 40]
