"""The columns of an evaluation: trained runs, and the trivial "keep it gray" baseline (ab = 0, the photo's L).

Each candidate colours crops at the model's size (`predict_lab`, the crop-level scores) and whole photos
at their own size exactly as `tfcolor.colorize` writes them (`photo_colorizer`, full-resolution scores).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import tensorflow as tf

from tfcolor.config import RunConfig
from tfcolor.data import color
from tfcolor.models import inference, photo_colorizing, upsampling
from tfcolor.models.colorizer import Colorizer
from tfcolor.models.restoring import load_colorizer

GRAY_LABEL = "gray (ab = 0)"


def gray_lab(rgb: tf.Tensor) -> tf.Tensor:
    """RGB `(..., 3)` -> its Lab with a*b* = 0: the photo's own lightness, no colour."""
    lab = color.rgb_to_lab(rgb)
    return tf.concat([lab[..., :1], tf.zeros_like(lab[..., 1:])], axis=-1)


@tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32)])
def gray_photo(rgb: tf.Tensor) -> tf.Tensor:
    """Float RGB `(H, W, 3)` -> the gray baseline as a PNG of it would hold it, uint8 `(H, W, 3)`."""
    return tf.image.convert_image_dtype(color.lab_to_rgb(gray_lab(rgb)), tf.uint8, saturate=True)


@dataclasses.dataclass
class Candidate:
    """One column of the comparison: a trained run, or the gray baseline when `model` is None.

    `model_size` is the size the run was trained at, where it predicts a whole photo's colours unless
    an evaluation says otherwise.
    """

    label: str
    kind: str
    model: Colorizer | None = None
    model_size: int | None = None

    def predict_lab(self, rgb: tf.Tensor) -> tf.Tensor:
        if self.model is None:
            return gray_lab(rgb)
        return inference.predict_lab(self.model, rgb)

    def photo_colorizer(self, model_size: int | None = None,
                        upsample: str = upsampling.DEFAULT_METHOD) -> Callable[[tf.Tensor], tf.Tensor]:
        """Float RGB `(H, W, 3)` -> uint8 RGB `(H, W, 3)`, what `tfcolor.colorize` writes for the photo
        (predicting at `model_size`, default the run's own; the gray baseline needs neither argument)."""
        if self.model is None:
            return gray_photo
        return photo_colorizing.photo_colorizer(self.model, model_size or self.model_size, upsample)


def load_candidates(run_dirs: list[str]) -> tuple[list[Candidate], list[RunConfig]]:
    """Candidates for the runs (labels from their folder names, made unique) plus the gray baseline."""
    candidates, configs = [], []
    for run_dir in run_dirs:
        config, model = load_colorizer(run_dir)
        label = Path(run_dir).resolve().name
        while label in {c.label for c in candidates}:
            label = f"{label}'"
        candidates.append(Candidate(label, config.model.model, model, config.data.image_size))
        configs.append(config)
    return [*candidates, Candidate(GRAY_LABEL, "baseline")], configs
