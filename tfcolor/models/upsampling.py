"""Bringing a*b* from the model's size to the photo's: plain bilinear resizing, or a guided filter that
follows the photo's own full-resolution lightness.

A photo is colorized at the model's size (often 10-40x smaller than the photo), so its colour has to be
enlarged again. Bilinear resizing spreads every colour edge over one model pixel, that is, over tens of
photo pixels, and a red roof bleeds into the blue sky beside it. The guided filter (He, Sun and Tang,
"Guided Image Filtering", 2010/2013) fits, in each small window, the colour as a linear function of
the lightness, `ab ~= slope * L + offset`. In its fast form (He and Sun, "Fast Guided Filter", 2015)
the fits are made at the model's size and their slopes enlarged bilinearly; here the slope is applied
to the lightness detail that the model's size lost:

    ab = bilinear(ab_small) + bilinear(slope) * (L - bilinear(L_small))

so where the photo is as smooth as its small version the result is bilinear's, and across an edge the
model could not resolve, the colour changes where the lightness does, on the right side of it. (The
filter's own offsets, window means, also smoothed the colour of flat regions: on scikit-image's
photos, with their own small colour standing in for a model's, they lost to bilinear where this form
wins.) The work at full resolution is one resize of four channels and a multiply-add: time and memory
linear in the photo's pixels, below what converting the photo to Lab and back already needs.

Graph code only, no Python-side shapes: the same functions run in `tfcolor.colorize`, in evaluation
and inside exported signatures, on photos of any size.
"""
from __future__ import annotations

import tensorflow as tf

DEFAULT_METHOD = "bilinear"
# Window radius, in model pixels, of the guided filter's local linear fits: one model pixel is
# `photo size / model size` photo pixels, so the window follows the ratio without being told it.
GUIDED_RADIUS = 1
# Regulariser of the fits, in (L units)^2: a window whose lightness varies by less than about 2 L units
# (of 0..100; JPEG noise, film grain) is taken as flat, its slope near 0, its colour bilinear's.
GUIDED_EPSILON = 2.0**2


def _box(image: tf.Tensor, radius: int) -> tf.Tensor:
    """Mean over the `(2 radius + 1)^2` window around each pixel of `(H, W, C)`; at the borders only the pixels
    inside the image count (average pooling with "SAME" padding leaves the padding out of each mean)."""
    side = 2 * radius + 1
    return tf.nn.avg_pool2d(image[tf.newaxis], side, 1, "SAME")[0]


def _bilinear(ab_small: tf.Tensor, lightness: tf.Tensor) -> tf.Tensor:
    return tf.image.resize(ab_small, tf.shape(lightness)[:2], method="bilinear")


def _guided(ab_small: tf.Tensor, lightness: tf.Tensor, radius: int = GUIDED_RADIUS,
            epsilon: float = GUIDED_EPSILON) -> tf.Tensor:
    """Bilinear colour plus the guided filter's local slope times the lightness detail the model's size lost."""
    # The guide at the model's size: the photo's L averaged down, as the photo was before the model saw it.
    guide_small = tf.image.resize(lightness, tf.shape(ab_small)[:2], method="bilinear", antialias=True)
    # Moments of values centred on the photo's means: the same (co)variances, without float32's cancellation
    # in mean(L * ab) - mean(L) * mean(ab) when L ~ 50 and ab ~ 25 vary by a fraction of a unit.
    guide = guide_small - tf.reduce_mean(guide_small)
    colour = ab_small - tf.reduce_mean(ab_small, axis=[0, 1])
    mean_guide = _box(guide, radius)
    covariance = _box(guide * colour, radius) - mean_guide * _box(colour, radius)
    variance = _box(tf.square(guide), radius) - tf.square(mean_guide)
    # Each pixel's slope is the mean of the slopes of every window it lies in (the filter's second box).
    slope = _box(covariance / (variance + epsilon), radius)
    size = tf.shape(lightness)[:2]
    enlarged = tf.image.resize(tf.concat([ab_small, slope, guide_small], axis=-1), size, method="bilinear")
    ab, slope, guide = tf.split(enlarged, [2, 2, 1], axis=-1)
    return ab + slope * (lightness - guide)


METHODS = {"bilinear": _bilinear, "guided": _guided}


def check_method(method: str) -> None:
    """Raises ValueError, naming `--upsample` and the methods there are, when `method` is not one of them."""
    if method not in METHODS:
        raise ValueError(f"Unknown upsampling method {method!r} (--upsample); expected one of {tuple(METHODS)}.")


def upsample_ab(ab_small: tf.Tensor, lightness: tf.Tensor, method: str = DEFAULT_METHOD) -> tf.Tensor:
    """a*b* `(h, w, 2)` predicted at the model's size -> `(H, W, 2)` at the size of `lightness` `(H, W, 1)`.

    Args:
        ab_small: float32 tensor `(h, w, 2)`. a*b* (about -110..110) at the model's size.
        lightness: float32 tensor `(H, W, 1)`. The photo's own L (0..100) at its full size; `guided`
            follows its edges, `bilinear` only reads its size.
        method: str. `bilinear` (resize the colour) or `guided` (the fast guided filter, edge-aware).
            Defaults to `bilinear`.

    Where the two sizes are equal there is nothing to enlarge, and `ab_small` comes back as it is,
    whatever the method.

    ```python
    ab = upsample_ab(ab_small, lab_full[..., :1], "guided")
    colorized = color.lab_to_rgb(tf.concat([lab_full[..., :1], ab], axis=-1))
    ```

    Raises:
        ValueError: `method` is not one of `METHODS`.
    """
    check_method(method)
    ab_small = tf.cast(ab_small, tf.float32)
    lightness = tf.cast(lightness, tf.float32)
    same_size = tf.reduce_all(tf.shape(ab_small)[:2] == tf.shape(lightness)[:2])
    upsampled = tf.cond(same_size, lambda: ab_small, lambda: METHODS[method](ab_small, lightness))
    upsampled.set_shape(lightness.shape[:-1].concatenate([2]))
    return upsampled
