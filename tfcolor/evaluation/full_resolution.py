"""Scoring what `tfcolor.colorize` writes: every held-out photo at its own size, against the original.

The crop-level scores (`tfcolor.evaluation.scoring`) judge colours on centre crops at the model's own
size. What a user keeps is the photo at its size, often 10-40x the model's side, whose a*b* were
brought up from the model's size (`tfcolor.models.upsampling`); colour bleeding across edges shows only
here. Each photo, at the size its source holds it (files: their own size; CIFAR-10 and the demo's
patches: the images themselves; shards: as written), is colorized by `Candidate.photo_colorizer`, the
function colorize writes its PNGs with (uint8 included), and compared with the original as a PNG of
it would hold it:

- `psnr`: PSNR in dB of the RGB images (0..255), capped at 100 dB as the crop-level PSNR is;
- `ciede2000`: the mean CIEDE2000 colour difference ΔE00 over the photo's pixels (`metrics.ciede2000`);
- `colorfulness`: Hasler & Süsstrunk's M of the output (`metrics.colorfulness`: signed rg and yb);
- `delta_colorfulness`: |M(colorized) - M(original)|, the ΔCF recent colorization papers report;

each the mean over photos (every photo weighs the same, whatever its size), for every run and for the
gray baseline. Photos are read and scored one at a time, the colour differences in strips of rows.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfcolor.config import DEFAULT_MAX_PIXELS
from tfcolor.data import color, reading, skips
from tfcolor.data.sources import PhotoFiles, Source
from tfcolor.evaluation.candidates import GRAY_LABEL, Candidate
from tfcolor.models import metrics, upsampling
from tfcolor.models.colorizer import Colorizer

SCORES = ("psnr", "ciede2000", "colorfulness", "delta_colorfulness")
# Pixels per strip of rows whose colour differences are worked out at once: a few tens of MB of temporaries.
STRIP_PIXELS = 1 << 20
# Traced and run once per colorizer before any photo is timed; its size differs from any model size's
# resized version, so the upsampling itself runs too.
_WARM_UP_SHAPE = (37, 53, 3)

_UINT8_IMAGE = tf.TensorSpec([None, None, 3], tf.uint8)


@tf.function(input_signature=[_UINT8_IMAGE, _UINT8_IMAGE])
def photo_differences(original_uint8: tf.Tensor, colorized_uint8: tf.Tensor) -> tf.Tensor:
    """[PSNR in dB, mean CIEDE2000] of a colorization `(H, W, 3)` against its original, both uint8."""
    height, width = tf.shape(original_uint8)[0], tf.shape(original_uint8)[1]
    rows = tf.maximum(1, STRIP_PIXELS // width)

    def strip_sums(top):
        original, colorized = original_uint8[top : top + rows], colorized_uint8[top : top + rows]
        squared = tf.square(tf.cast(original, tf.float64) - tf.cast(colorized, tf.float64))
        delta_e = metrics.ciede2000(color.rgb_to_lab(original), color.rgb_to_lab(colorized))
        return tf.stack([tf.reduce_sum(squared), tf.reduce_sum(tf.cast(delta_e, tf.float64))])

    sums = tf.reduce_sum(tf.map_fn(strip_sums, tf.range(0, height, rows), fn_output_signature=tf.float64,
                                   parallel_iterations=1), axis=0)
    pixels = tf.cast(height * width, tf.float64)
    mean_squared = sums[0] / (3.0 * pixels)
    psnr = 10.0 * tf.math.log(255.0**2 / mean_squared) / tf.math.log(tf.constant(10.0, tf.float64))
    return tf.stack([tf.minimum(psnr, metrics.PSNR_CAP_DB), sums[1] / pixels])


@tf.function(input_signature=[_UINT8_IMAGE])
def photo_colorfulness(rgb_uint8: tf.Tensor) -> tf.Tensor:
    """Hasler & Süsstrunk's colourfulness of one uint8 photo `(H, W, 3)` (`metrics.colorfulness`)."""
    return metrics.colorfulness(color.to_float_rgb(rgb_uint8)[tf.newaxis])[0]


def full_size_images(source: Source, stats: skips.PipelineStats, max_pixels: int = DEFAULT_MAX_PIXELS,
                     limit: int | None = None) -> tf.data.Dataset:
    """A source's photos as float RGB at the size it holds them, in its fixed order, one read at a time.

    Unreadable, oversized (never decoded) and grayscale photos are skipped and counted in `stats`, as
    everywhere. One reading thread: photos of up to `max_pixels` are never decoded side by side.
    """
    images = reading.source_images(source, stats, None, max_pixels)
    if limit:
        images = images.take(limit)
    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1
    return images.with_options(options)


def score_source(candidates: list[Candidate], source: Source, model_size: int | None = None,
                 upsample: str = upsampling.DEFAULT_METHOD, max_pixels: int = DEFAULT_MAX_PIXELS,
                 limit: int | None = None) -> dict:
    """Colorize a source's photos at their own sizes with every candidate and score them (module docstring).

    Args:
        candidates: the runs and the gray baseline (`tfcolor.evaluation.candidates`).
        source: the photos (`tfcolor.data.datasets.evaluation_split`, or `PhotoFiles`).
        model_size: the size the runs predict at. Defaults to each run's training size, as colorize.
        upsample: `bilinear` or `guided`, as `tfcolor.colorize --upsample`. Defaults to `bilinear`.
        max_pixels: photos with more pixels are skipped before they are decoded.
        limit: score at most this many photos.

    Returns the `full_resolution` section of metrics.json: the photos' count and megapixels, the
    original's mean colourfulness, each candidate's scores (and the size it predicted at; None for the
    gray baseline), `skipped` counts, and each candidate's
    `colorize_ms_per_megapixel` (wall-clock of the colorizer alone, model and PNG's uint8 included,
    after a warm-up call), kept apart from the scores, which are the same on every run.

    Raises:
        DatasetError: no usable photo. ValueError: an unknown `upsample`.
    """
    upsampling.check_method(upsample)
    colorizers = {c.label: c.photo_colorizer(model_size, upsample) for c in candidates}
    warm_up = tf.random.stateless_uniform(_WARM_UP_SHAPE, (0, 1))
    for colorize in colorizers.values():
        colorize(warm_up).numpy()
    stats = skips.PipelineStats()
    sums = {label: np.zeros(len(SCORES)) for label in colorizers}
    seconds = dict.fromkeys(colorizers, 0.0)
    count, megapixels, truth_colorfulness = 0, 0.0, 0.0
    for rgb in full_size_images(source, stats, max_pixels, limit):
        original = tf.image.convert_image_dtype(rgb, tf.uint8, saturate=True)
        original_colorfulness = float(photo_colorfulness(original))
        for label, colorize in colorizers.items():
            start = time.perf_counter()
            colorized = colorize(rgb)
            colorized.numpy()  # the work done, wherever it runs: what writing the PNG would wait for
            seconds[label] += time.perf_counter() - start
            psnr, delta_e = photo_differences(original, colorized).numpy()
            colorfulness = float(photo_colorfulness(colorized))
            sums[label] += [psnr, delta_e, colorfulness, abs(colorfulness - original_colorfulness)]
        count += 1
        megapixels += float(tf.size(rgb)) / 3e6
        truth_colorfulness += original_colorfulness
    if not count:
        raise skips.DatasetError("no usable images to evaluate on at full resolution (all were corrupt, "
                                 "grayscale or over the pixel limit).")
    return {
        "images": count, "megapixels": megapixels, "upsample": upsample,
        "ground_truth_colorfulness": truth_colorfulness / count, "skipped": stats.as_dict(),
        "candidates": {c.label: {"kind": c.kind, "model_size": None if c.model is None else model_size or c.model_size,
                                 **dict(zip(SCORES, (float(v) for v in sums[c.label] / count)))}
                       for c in candidates},
        "colorize_ms_per_megapixel": {label: 1000.0 * value / megapixels for label, value in seconds.items()},
    }


def score_photos(model: Colorizer, paths: list[str | Path], model_size: int,
                 upsample: str = upsampling.DEFAULT_METHOD, max_pixels: int = DEFAULT_MAX_PIXELS,
                 label: str = "model", kind: str = "model") -> dict:
    """Full-resolution scores of one model beside the gray baseline on photo files, for the quality benchmark.

    ```python
    scores = score_photos(model, sorted(glob.glob("held-out/*.jpg")), 64, "guided")
    scores["candidates"]["model"]["ciede2000"], scores["candidates"][GRAY_LABEL]["ciede2000"]
    ```

    Returns `score_source`'s dict; the model's column is `label`, the baseline's `GRAY_LABEL`.
    """
    candidates = [Candidate(label, kind, model, model_size), Candidate(GRAY_LABEL, "baseline")]
    return score_source(candidates, PhotoFiles([str(path) for path in paths]), model_size, upsample, max_pixels)
