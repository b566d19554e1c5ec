"""A GIF's decoded size, read from its frame descriptors: the logical screen alone understates it.

TensorFlow's GIF decoder sizes its canvas by the largest frame (widest x tallest over all frames), not
by the logical screen in the file's first bytes, and giflib holds every frame's raster while reading.
A 16x16 screen can carry a 4000x4000 frame, so a limit checked against the screen lets that frame
be decoded. This walks the file's blocks (descriptors, extensions and their sub-blocks) without
decoding any pixels. Graph code only, so exported signatures check GIFs as TF-Serving runs them.
"""
from __future__ import annotations

import tensorflow as tf

# A valid GIF can chain sub-blocks of one byte each, so the walk is bounded: 65 536 blocks cover 16 MiB
# of image data at the usual 255 bytes a sub-block, and take about 0.9 s to walk (14 us a block, AMD
# EPYC AVX-512). A file that needs more is refused as unmeasurable.
MAX_GIF_BLOCKS = 1 << 16
UNMEASURABLE = -1  # the size reported for such a file, which every pixel check refuses

_IMAGE, _EXTENSION, _TRAILER = 0x2C, 0x21, 0x3B


def _color_table_bytes(packed: tf.Tensor) -> tf.Tensor:
    """Bytes of the colour table a packed-flags byte announces (bit 7: present; bits 0-2: 2^(n+1) entries)."""
    return tf.where(packed >= 128, 3 * tf.bitwise.left_shift(tf.constant(2, tf.int64), packed % 8), tf.constant(0, tf.int64))


# Traced once, so eager callers (the command lines' pixel checks) walk at graph speed too: op by op, the
# loop takes seconds where the graph takes under one.
@tf.function(input_signature=[tf.TensorSpec([], tf.string)])
def gif_canvas_size(contents: tf.Tensor) -> tf.Tensor:
    """A GIF's bytes -> `[height, width]` (int64) of the canvas TensorFlow would decode: the largest of the
    logical screen and every frame; `[-1, -1]` when its blocks cannot be walked within `MAX_GIF_BLOCKS`."""
    data = tf.cast(tf.io.decode_raw(tf.strings.join([contents, b"\0" * 16]), tf.uint8), tf.int64)
    end = tf.cast(tf.strings.length(contents), tf.int64)

    def uint16(offset):
        return tf.gather(data, offset) + 256 * tf.gather(data, offset + 1)

    def step(position, in_sub_blocks, height, width, blocks, done):
        byte = tf.gather(data, tf.minimum(position, end))

        def sub_block():  # a length byte and that many bytes; length 0 ends the sequence
            return position + 1 + byte, byte > 0, height, width, tf.constant(False)

        def image():  # descriptor: left, top, width, height (2 bytes each), packed flags; LZW code size
            new_width = tf.maximum(width, uint16(position + 5))
            new_height = tf.maximum(height, uint16(position + 7))
            after = position + 10 + _color_table_bytes(tf.gather(data, position + 9)) + 1
            return after, tf.constant(True), new_height, new_width, tf.constant(False)

        def extension():  # introducer and label, then sub-blocks
            return position + 2, tf.constant(True), height, width, tf.constant(False)

        def finished():  # the trailer, the end of the data, or a byte no block starts with
            return position, tf.constant(False), height, width, tf.constant(True)

        position, in_sub_blocks, height, width, done = tf.case([
            (position >= end, finished),
            (in_sub_blocks, sub_block),
            (tf.equal(byte, _IMAGE), image),
            (tf.equal(byte, _EXTENSION), extension),
        ], default=finished)
        return position, in_sub_blocks, height, width, blocks + 1, done

    start = 13 + _color_table_bytes(tf.gather(data, 10))
    _, _, height, width, blocks, done = tf.while_loop(
        lambda *state: tf.logical_and(tf.logical_not(state[-1]), state[-2] < MAX_GIF_BLOCKS),
        step,
        (start, tf.constant(False), uint16(8), uint16(6), tf.constant(0, tf.int64), tf.constant(False)),
    )
    return tf.cond(done, lambda: tf.stack([height, width]), lambda: tf.constant([UNMEASURABLE] * 2, tf.int64))
