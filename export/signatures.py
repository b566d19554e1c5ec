"""The SavedModel's signatures; all preprocessing (decode, Lab, resize, pad, encode) runs in the graph.

- `serving_default`: `image_bytes` `[N]` string (JPEG/PNG/BMP/GIF, any size, colour or gray) ->
  `colorized_bytes` `[N]` PNG at the input's full resolution, `image_size` `[N, 2]` (height, width).
  The `_bytes` suffix makes TF-Serving's REST API carry them as `{"b64": ...}`.
- `colorize_rgb`: `images` uint8 `[N, H, W, 1 or 3]` -> `colorized_rgb` uint8 `[N, H, W, 3]`.
- `colorize_lab`: `l_scaled` float `[N, H, W, 1]` (L/50 - 1) -> `ab_scaled` float `[N, H, W, 2]` (ab/110).
- `colorize_render_size`: `image_bytes` `[N]` and `render_size` int32 `[N]` -> as `serving_default`, each
  image colorized on a square of its own `render_size` (DeOldify's render factor: larger sees more
  detail, smaller gives broader, often more saturated colour), from MIN_RENDER_SIZE to the export's
  `max_render_size`; the network runs once per image, as the squares differ.
- `image_sizes`: `image_bytes` `[N]` -> `image_size` `[N, 2]` read from the headers, nothing decoded
  (`[-1, -1]`: a GIF too fragmented to measure): what a server needs to budget a request's memory
  before `serving_default` decodes it, and a client to learn what a request will cost.

Every signature refuses more than `max_batch` images per call, images over `max_pixels` and requests
over `max_request_pixels` in all with INVALID_ARGUMENT before any work: the limits travel with the
model, so TF-Serving enforces them too. `serving_default` reads every image's size from its header
before decoding any, so neither a decompression bomb nor a request of many large images is decoded.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from export.limits import MIN_RENDER_SIZE, Limits
from tfcolor.data import color, images
from tfcolor.models import inference, upsampling
from tfcolor.models.colorizer import Colorizer

SIGNATURES = ("serving_default", "colorize_rgb", "colorize_lab", "colorize_render_size", "image_sizes")


def _to_uint8(rgb: tf.Tensor) -> tf.Tensor:
    return tf.image.convert_image_dtype(rgb, tf.uint8, saturate=True)


def _checked(tensor: tf.Tensor, limits: Limits, check_size: bool) -> tf.Tensor:
    """`tensor` `(N, ...)` once N <= max_batch and (with `check_size`) its H x W <= max_pixels and N x H x W
    <= max_request_pixels."""
    shape = tf.shape(tensor, out_type=tf.int64)
    checks = [tf.debugging.Assert(shape[0] <= limits.max_batch, [tf.strings.format(
        "request has {} images, over the limit of {} per request", (shape[0], limits.max_batch))])]
    if check_size:
        pixels = shape[1] * shape[2]
        checks.append(tf.debugging.Assert(pixels <= limits.max_pixels, [tf.strings.format(
            "images are {}x{} = {} pixels, over the limit of {} pixels", (shape[1], shape[2], pixels, limits.max_pixels))]))
        checks.append(_total_check(shape[0] * pixels, shape[0], limits))
    with tf.control_dependencies(checks):
        return tf.identity(tensor)


def _total_check(total: tf.Tensor, count: tf.Tensor, limits: Limits) -> tf.Operation:
    return tf.debugging.Assert(total <= limits.max_request_pixels, [tf.strings.format(
        "request has {} images of {} pixels in all, over the limit of {} pixels per request",
        (count, total, limits.max_request_pixels))])


def _header_sizes(image_bytes: tf.Tensor, max_pixels: int | None) -> tf.Tensor:
    """`[N, 2]` heights and widths from the images' headers (each checked against `max_pixels` unless None)."""
    size_of = images.encoded_size if max_pixels is None else (lambda contents: images.checked_size(contents, max_pixels))
    return tf.map_fn(size_of, image_bytes, fn_output_signature=tf.TensorSpec([2], tf.int64))


def _checked_encoded(image_bytes: tf.Tensor, limits: Limits) -> tf.Tensor:
    """`image_bytes` once the batch, each image and their sum are within the limits, by their headers alone:
    nothing is decoded before every image of the request is known to fit."""
    image_bytes = _checked(image_bytes, limits, check_size=False)
    sizes = _header_sizes(image_bytes, limits.max_pixels)
    total = tf.reduce_sum(sizes[:, 0] * sizes[:, 1])
    with tf.control_dependencies([_total_check(total, tf.shape(image_bytes, out_type=tf.int64)[0], limits)]):
        return tf.identity(image_bytes)


def build_archive(model: Colorizer, model_size: int, limits: Limits = Limits(),
                  upsample: str = upsampling.DEFAULT_METHOD) -> keras.export.ExportArchive:
    """An ExportArchive holding the model's weights and the five signatures above.

    `serving_default` and `colorize_rgb` run the generator once per call, on all its images at once:
    each image is brought to the model's square (`inference.model_input`), the batch colorized, and
    each result's colour joined to the image's own full-resolution L (`upsample`: `bilinear` or
    `guided`). So TF-Serving's batching, which merges requests into one call, gives the network its
    batch, and an image's result does not depend on its batch-mates.
    """
    upsampling.check_method(upsample)
    archive = keras.export.ExportArchive()
    for network in model.inference_networks:  # the only weights inference uses (the moving average, if kept)
        archive.track(network)

    def serve_encoded(image_bytes):
        def prepare(contents):
            rgb = images.decode_rgb(contents)
            # Kept flat until its colour is known: photos of different sizes cannot share a dense tensor.
            return inference.model_input(rgb, model_size), tf.reshape(inference.lightness_of(rgb), [-1]), tf.shape(rgb)[:2]

        small, lightness, sizes = tf.map_fn(
            prepare, _checked_encoded(image_bytes, limits), parallel_iterations=1,
            fn_output_signature=(tf.TensorSpec([model_size, model_size, 3], tf.float32),
                                 tf.RaggedTensorSpec([None], tf.float32, ragged_rank=0), tf.TensorSpec([2], tf.int32)),
        )
        ab_small = inference.colors_at_model_size(model, small)

        def finish(index):
            own = tf.reshape(lightness[index], tf.concat([sizes[index], [1]], axis=0))
            return tf.io.encode_png(_to_uint8(inference.join_colors(own, ab_small[index], upsample)))

        pngs = tf.map_fn(finish, tf.range(tf.shape(small)[0]), fn_output_signature=tf.TensorSpec([], tf.string),
                         parallel_iterations=1)
        return {"colorized_bytes": pngs, "image_size": sizes}

    def serve_rgb(images):
        images = _checked(images, limits, check_size=True)
        channels = tf.shape(images)[-1]
        # A control dependency, so the colour conversion cannot fail first with a less helpful message.
        with tf.control_dependencies([tf.debugging.Assert(
                tf.logical_or(channels == 1, channels == 3), ["colorize_rgb expects 1 or 3 channels, got", channels])]):
            rgb = tf.cond(channels == 1, lambda: tf.tile(images[..., :1], [1, 1, 1, 3]), lambda: images[..., :3])
        small = tf.map_fn(lambda one: inference.model_input(one, model_size), rgb,
                          fn_output_signature=tf.TensorSpec([model_size, model_size, 3], tf.float32))
        ab_small = inference.colors_at_model_size(model, small)
        colorized = tf.map_fn(
            lambda pair: _to_uint8(inference.join_colors(inference.lightness_of(pair[0]), pair[1], upsample)),
            (rgb, ab_small), fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8), parallel_iterations=1)
        return {"colorized_rgb": colorized}

    def serve_lab(l_scaled):
        l_scaled = _checked(l_scaled, limits, check_size=True)
        lab = color.to_lab(l_scaled, model.predict_color(l_scaled), model.color_space)
        return {"ab_scaled": color.scale_lab(lab)[1]}

    def serve_render_size(image_bytes, render_size):
        image_bytes = _checked_encoded(image_bytes, limits)
        in_range = tf.reduce_all((render_size >= MIN_RENDER_SIZE) & (render_size <= limits.max_render_size))
        with tf.control_dependencies([
            tf.debugging.assert_equal(tf.shape(render_size), tf.shape(image_bytes), message=(
                "render_size must hold one size per image")),
            tf.debugging.Assert(in_range, [tf.strings.format(
                "render_size {} outside {}..{}, the sizes this export colorizes at",
                (render_size, MIN_RENDER_SIZE, limits.max_render_size))])]):
            render_size = tf.identity(render_size)

        def one(pair):
            rgb = images.decode_rgb(pair[0])
            ab_small = inference.colors_at_model_size(model, inference.model_input(rgb, pair[1])[tf.newaxis])[0]
            colorized = inference.join_colors(inference.lightness_of(rgb), ab_small, upsample)
            return tf.io.encode_png(_to_uint8(colorized)), tf.shape(rgb)[:2]

        pngs, sizes = tf.map_fn(one, (image_bytes, render_size), parallel_iterations=1,
                                fn_output_signature=(tf.TensorSpec([], tf.string), tf.TensorSpec([2], tf.int32)))
        return {"colorized_bytes": pngs, "image_size": sizes}

    def serve_sizes(image_bytes):
        sizes = _header_sizes(_checked(image_bytes, limits, check_size=False), None)
        return {"image_size": tf.cast(sizes, tf.int32)}

    archive.add_endpoint("colorize_render_size", serve_render_size,
                         [tf.TensorSpec([None], tf.string, name="image_bytes"),
                          tf.TensorSpec([None], tf.int32, name="render_size")])
    archive.add_endpoint("image_sizes", serve_sizes, [tf.TensorSpec([None], tf.string, name="image_bytes")])
    archive.add_endpoint("serving_default", serve_encoded, [tf.TensorSpec([None], tf.string, name="image_bytes")])
    archive.add_endpoint("colorize_rgb", serve_rgb, [tf.TensorSpec([None, None, None, None], tf.uint8, name="images")])
    archive.add_endpoint("colorize_lab", serve_lab, [tf.TensorSpec([None, None, None, 1], tf.float32, name="l_scaled")])
    return archive
