"""One photo's bytes to pixels: decoding any common format, resizing, telling grayscale from colour.

Shared by the training pipelines (`tfcolor.data.pipelines`), inference (`tfcolor.models.inference`) and the
exported signatures (`export/`), so a photo is read the same way everywhere. Graph code only.
"""
from __future__ import annotations

import tensorflow as tf

from tfcolor.config import DEFAULT_MAX_PIXELS
from tfcolor.data import color
from tfcolor.data.gif_canvas import MAX_GIF_BLOCKS, UNMEASURABLE, gif_canvas_size

# Channels that differ by no more than this (JPEG noise on a gray scan) still count as grayscale.
GRAYSCALE_TOLERANCE = 1.5 / 255.0


# libjpeg can decode at 1/2, 1/4 and 1/8 scale (DCT scaling), several times faster than in full.
JPEG_SCALE_DENOMINATORS = (1, 2, 4, 8)


def decode_rgb(contents: tf.Tensor, min_side: int | None = None) -> tf.Tensor:
    """Encoded image bytes -> float RGB `(H, W, 3)` in [0, 1].

    Handles 8- and 16-bit, gray, gray+alpha, RGB, RGBA and palette images (alpha composited over
    white, as viewers show it) and the first frame of a GIF. Raises on undecodable bytes.

    Args:
        min_side: the smallest shorter side the caller needs. A JPEG at least twice (4x, 8x) that
            size is decoded at half (a quarter, an eighth) of its size: training at 64 px never needs
            a 4000-px photo's every pixel. None decodes every image in full.
    """
    def in_full():
        return _to_rgb(tf.io.decode_image(contents, channels=0, dtype=tf.uint8, expand_animations=False))

    if min_side is None:
        return in_full()
    return tf.cond(tf.io.is_jpeg(contents), lambda: _to_rgb(_decode_jpeg_at_least(contents, min_side)), in_full)


def _decode_jpeg_at_least(contents: tf.Tensor, min_side: int) -> tf.Tensor:
    """A JPEG decoded at the smallest DCT scale that keeps its shorter side >= `min_side` (uint8)."""
    shorter = tf.cast(tf.reduce_min(tf.image.extract_jpeg_shape(contents)[:2]), tf.float32)
    halvings = tf.math.floor(tf.math.log(shorter / float(min_side)) / tf.math.log(2.0))
    index = tf.cast(tf.clip_by_value(halvings, 0.0, len(JPEG_SCALE_DENOMINATORS) - 1.0), tf.int32)
    branches = [lambda ratio=ratio: tf.io.decode_jpeg(contents, channels=0, ratio=ratio)
                for ratio in JPEG_SCALE_DENOMINATORS]
    return tf.switch_case(index, branches)


def _to_rgb(image_uint8: tf.Tensor) -> tf.Tensor:
    # uint8 is the one dtype every decoder accepts (WebP refuses others); 16-bit PNGs are scaled down.
    image = tf.image.convert_image_dtype(image_uint8, tf.float32)
    channels = tf.shape(image)[-1]
    rgb = tf.cond(channels >= 3, lambda: image[..., :3], lambda: tf.tile(image[..., :1], [1, 1, 3]))
    alpha = tf.cond(channels % 2 == 0, lambda: image[..., -1:], lambda: tf.ones_like(image[..., :1]))
    rgb = rgb * alpha + (1.0 - alpha)
    rgb.set_shape([None, None, 3])
    return rgb


def is_grayscale(rgb: tf.Tensor) -> tf.Tensor:
    """True when the three channels of `(H, W, 3)` agree everywhere (up to JPEG rounding)."""
    rgb = color.to_float_rgb(rgb)
    spread = tf.reduce_max(rgb, axis=-1) - tf.reduce_min(rgb, axis=-1)
    return tf.reduce_max(spread) <= GRAYSCALE_TOLERANCE


def resize_shorter_side(rgb: tf.Tensor, size: int, enlarge: bool = True) -> tf.Tensor:
    """Scale `(H, W, 3)` so its shorter side is `size` (no-op when it already is); with `enlarge=False`
    only shrink, for images kept to be cropped later (enlarging first would only cost memory)."""
    shape = tf.cast(tf.shape(rgb)[:2], tf.float32)
    shorter = tf.reduce_min(shape)
    target = float(size) if enlarge else tf.minimum(float(size), shorter)
    new_shape = tf.cast(tf.maximum(tf.round(shape * target / shorter), target), tf.int32)
    return tf.cond(
        tf.reduce_all(new_shape == tf.shape(rgb)[:2]),
        lambda: rgb,
        lambda: tf.image.resize(rgb, new_shape, antialias=True),
    )


def random_square_crop(rgb: tf.Tensor, size: int, scale: tuple[float, float], seed: tf.Tensor) -> tf.Tensor:
    """A square of `(H, W, 3)` at a random place, its side a random fraction in `scale` of the shorter
    side, scaled to `(size, size, 3)` (up, where the photo has fewer pixels than the crop needs).

    `scale=(1, 1)` is the original code's crop: the largest square, at a random offset along the
    longer side. Smaller fractions cut patches at every scale from the full-resolution photo.
    `seed` is a stateless seed pair, so crops are reproducible from the run's seed.
    """
    shape = tf.shape(rgb)[:2]
    shorter = tf.reduce_min(shape)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
    fraction = tf.random.stateless_uniform([], seeds[0], scale[0], scale[1])
    side = tf.cast(tf.round(fraction * tf.cast(shorter, tf.float32)), tf.int32)
    side = tf.clip_by_value(side, 1, shorter)
    top = tf.random.stateless_uniform([], seeds[1], 0, shape[0] - side + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([], seeds[2], 0, shape[1] - side + 1, dtype=tf.int32)
    crop = rgb[top : top + side, left : left + side]
    return tf.cond(side == size, lambda: crop, lambda: tf.image.resize(crop, [size, size], antialias=True))


def decode_within_limit(contents: tf.Tensor, min_side: int | None, max_pixels: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Encoded photo -> (float RGB `(H, W, 3)` no larger than `min_side` needs, over `max_pixels`?); a photo
    over the limit is not decoded at all (a 1x1 placeholder stands in). Raises on undecodable bytes."""
    size = encoded_size(contents)
    oversized = tf.logical_or(size[0] * size[1] > max_pixels, size[0] == UNMEASURABLE)
    rgb = tf.cond(oversized, lambda: tf.zeros([1, 1, 3]), lambda: decode_rgb(contents, min_side))
    return rgb, oversized


__all__ = ["DEFAULT_MAX_PIXELS", "check_pixels", "checked_size", "decode_rgb", "decode_within_limit", "encoded_size",
           "is_grayscale", "over_pixel_limit", "random_square_crop", "resize_shorter_side"]

_OVER_LIMIT = "image is {}x{} = {} pixels, over the limit of {} pixels"
_UNMEASURABLE = f"GIF has more than {MAX_GIF_BLOCKS} blocks, too many to measure before decoding; re-encode it"
_HEADER_BYTES = 32


def _header_uint(header: tf.Tensor, offset: int, length: int, little_endian: bool) -> tf.Tensor:
    """The unsigned integer stored in `header[offset:offset + length]` (uint8 vector), as int64."""
    digits = tf.cast(header[offset:offset + length], tf.int64)
    # The weights are constants in either order: a reversing slice of a 4-element vector made
    # Grappler's layout optimizer fail (an E-level "layout failed" line) in every serving graph.
    powers = range(length) if little_endian else reversed(range(length))
    return tf.reduce_sum(digits * tf.constant([256**i for i in powers], tf.int64))


def encoded_size(contents: tf.Tensor) -> tf.Tensor:
    """Encoded image bytes -> `[height, width]` (int64) read from the file's header, without decoding.

    JPEG, PNG, GIF, BMP and WebP (lossy, lossless, extended); `[0, 0]` for anything else, which
    decoding then refuses with its own message. A GIF's size is its largest frame's (`gif_canvas`),
    `[-1, -1]` if its blocks are too many to walk. Raises on a JPEG whose header is corrupt.
    """
    head = tf.strings.substr(contents, 0, _HEADER_BYTES)
    header = tf.io.decode_raw(tf.strings.join([head, tf.constant(b"\0" * _HEADER_BYTES)]), tf.uint8)[:_HEADER_BYTES]

    def at(offset, length, little_endian=True):
        return _header_uint(header, offset, length, little_endian)

    def starts_with(prefix: bytes, offset: int = 0):
        return tf.reduce_all(header[offset:offset + len(prefix)] == tf.constant(list(prefix), tf.uint8))

    def webp_lossy():  # "VP8 " frame header: 14-bit width and height after the start code
        return tf.stack([at(28, 2) % 16384, at(26, 2) % 16384])

    def webp_lossless():  # "VP8L": 14-bit width-1 and height-1, packed after the signature byte
        bits = at(21, 4)
        return tf.stack([(bits // 16384) % 16384 + 1, bits % 16384 + 1])

    def webp_extended():  # "VP8X": 24-bit canvas width-1 and height-1
        return tf.stack([at(27, 3) + 1, at(24, 3) + 1])

    return tf.case(
        [
            (tf.io.is_jpeg(contents), lambda: tf.cast(tf.image.extract_jpeg_shape(contents)[:2], tf.int64)),
            (starts_with(b"\x89PNG"), lambda: tf.stack([at(20, 4, False), at(16, 4, False)])),
            (starts_with(b"GIF8"), lambda: gif_canvas_size(contents)),
            # BMP height is signed (negative: rows stored top-down); its size is the absolute value.
            (starts_with(b"BM"), lambda: tf.stack([tf.cast(tf.abs(tf.bitcast(tf.cast(at(22, 4), tf.uint32), tf.int32)), tf.int64),
                                                   at(18, 4)])),
            (starts_with(b"VP8 ", 12), webp_lossy),
            (starts_with(b"VP8L", 12), webp_lossless),
            (starts_with(b"VP8X", 12), webp_extended),
        ],
        default=lambda: tf.zeros([2], tf.int64),
    )


def checked_size(contents: tf.Tensor, max_pixels: int) -> tf.Tensor:
    """`encoded_size(contents)`, once it says the image has at most `max_pixels` pixels.

    Raises:
        tf.errors.InvalidArgumentError: "image is HxW = N pixels, over the limit of M pixels" (at run
            time in a graph, at once in eager code), before anything is decoded.
    """
    size = encoded_size(contents)
    pixels = size[0] * size[1]
    message = tf.strings.format(_OVER_LIMIT, (size[0], size[1], pixels, tf.constant(max_pixels, tf.int64)))
    checks = [tf.debugging.Assert(size[0] != UNMEASURABLE, [_UNMEASURABLE]),
              tf.debugging.Assert(pixels <= max_pixels, [message])]
    with tf.control_dependencies(checks):
        return tf.identity(size)


def check_pixels(contents: tf.Tensor, max_pixels: int) -> tf.Tensor:
    """`contents` unchanged, once its header says it has at most `max_pixels` pixels (as `checked_size`)."""
    with tf.control_dependencies([checked_size(contents, max_pixels)]):
        return tf.identity(contents)


def over_pixel_limit(contents: bytes, max_pixels: int) -> str | None:
    """Eager code's check (CLIs reading files): the reason a photo is over `max_pixels`, or None."""
    height, width = (int(v) for v in encoded_size(tf.constant(contents)).numpy())
    if height == UNMEASURABLE:
        return _UNMEASURABLE
    if height * width <= max_pixels:
        return None
    return _OVER_LIMIT.format(height, width, height * width, max_pixels)
