"""Training callbacks: early stop, and one TensorBoard summary job each (checkpoints: `training.checkpoints`).

Batch-level summaries use the model's own `trained_batches` counter as their step, so a resumed
run continues its curves where the interrupted one stopped.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from tfcolor.data import color
from tfcolor.data.skips import PipelineStats, describe_skipped
from tfcolor.evaluation import grids
from tfcolor.models import optimizers
from tfcolor.training.checkpoints import trained_batches


class StopAtStep(keras.callbacks.Callback):
    """Ends training once the model has trained `max_steps` batches in total (across resumes)."""

    def __init__(self, max_steps: int):
        super().__init__()
        self.max_steps = max_steps

    def on_train_batch_end(self, batch, logs=None):
        if trained_batches(self.model) >= self.max_steps:
            self.model.stop_training = True


def sample_grid(l_scaled: tf.Tensor, color_true: tf.Tensor, color_pred: tf.Tensor, color_space: str) -> np.ndarray:
    """One row per image, columns grayscale | original | colorized: uint8 `(n * H, 3 * W, 3)`."""
    original = color.to_rgb(l_scaled, color_true, color_space)
    colorized = color.to_rgb(l_scaled, color_pred, color_space)
    if color_space == "lab":
        gray = color.to_rgb(l_scaled, tf.zeros_like(color_true), "lab")
    else:
        gray = tf.image.grayscale_to_rgb(tf.clip_by_value((l_scaled + 1.0) / 2.0, 0.0, 1.0))
    return grids.stitch_columns([gray, original, colorized])


class BatchScalars(keras.callbacks.Callback):
    """Every `interval` batches: the step's losses, metrics and learning rates under `batch/`."""

    def __init__(self, *, writer: tf.summary.SummaryWriter, interval: int):
        super().__init__()
        self.writer = writer
        self.interval = interval

    def on_train_batch_end(self, batch, logs=None):
        step = trained_batches(self.model)
        if self.interval and step % self.interval == 0:
            with self.writer.as_default(step=step):
                for name, value in {**(logs or {}), **optimizers.learning_rates(self.model)}.items():
                    tf.summary.scalar(f"batch/{name}", float(value))

    def on_train_end(self, logs=None):
        self.writer.flush()


class SampleGrids(keras.callbacks.Callback):
    """Every `interval` batches and at the end: a fixed batch colorized, as PNG and in TensorBoard.

    Args:
        samples: `(l_scaled, color_scaled)` batch whose colorization is shown over time.
        samples_dir: where the PNGs go (`step_0000100.png`).
    """

    def __init__(self, *, writer: tf.summary.SummaryWriter, samples: tuple[tf.Tensor, tf.Tensor], interval: int,
                 samples_dir: Path, color_space: str):
        super().__init__()
        self.writer = writer
        self.samples = samples
        self.interval = interval
        self.samples_dir = samples_dir
        self.color_space = color_space

    def on_train_batch_end(self, batch, logs=None):
        step = trained_batches(self.model)
        if self.interval and step % self.interval == 0:
            self.write(step)

    def on_train_end(self, logs=None):
        self.write(trained_batches(self.model))
        self.writer.flush()

    def write(self, step: int) -> None:
        l_scaled, color_true = self.samples
        grid = sample_grid(l_scaled, color_true, self.model.predict_color(l_scaled),
                           self.color_space)
        self.samples_dir.mkdir(parents=True, exist_ok=True)
        grids.write_png(self.samples_dir / f"step_{step:07d}.png", grid)
        with self.writer.as_default(step=step):
            tf.summary.image("samples/gray_original_colorized", grid[np.newaxis], step=step)


class HParamsSummary(keras.callbacks.Callback):
    """The run's settings in TensorBoard's HParams tab, as one trial named `trial_id`."""

    def __init__(self, *, writer: tf.summary.SummaryWriter, hparams: dict[str, object], trial_id: str):
        super().__init__()
        self.writer = writer
        self.hparams = hparams
        self.trial_id = trial_id

    def on_train_begin(self, logs=None):
        with self.writer.as_default():
            hparams_api.hparams(self.hparams, trial_id=self.trial_id)


class SkippedImages(keras.callbacks.Callback):
    """Each epoch: the pipeline's running counters under `data/`, and a line when this epoch skipped images."""

    def __init__(self, *, writer: tf.summary.SummaryWriter, stats: PipelineStats, report: Callable[[str], None]):
        super().__init__()
        self.writer = writer
        self.stats = stats
        self.report = report
        self._before: dict[str, int] = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._before = self.stats.as_dict()

    def on_epoch_end(self, epoch, logs=None):
        counts = self.stats.as_dict()
        with self.writer.as_default(step=epoch):
            for name, value in counts.items():
                tf.summary.scalar(f"data/{name}", value)
        this_epoch = {name: value - self._before.get(name, 0) for name, value in counts.items()}
        line = describe_skipped(this_epoch)
        if line:
            self.report(f"Epoch {epoch + 1}: skipped {line} of {this_epoch['files']} read this epoch.")



class TransferGap(keras.callbacks.Callback):
    """A line at the end of an epoch whose training photos score far above its validation photos: a model
    that learns its corpus rather than colour (validate on another source with `--validation-path`)."""

    def __init__(self, *, report: Callable[[str], None], gap_db: float = 3.0):
        super().__init__()
        self.report = report
        self.gap_db = gap_db

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if "psnr" not in logs or "val_psnr" not in logs:
            return
        gap = float(logs["psnr"]) - float(logs["val_psnr"])
        if gap > self.gap_db:
            self.report(f"Epoch {epoch + 1}: the training photos score {gap:.1f} dB PSNR above the validation "
                        f"photos ({float(logs['psnr']):.2f} against {float(logs['val_psnr']):.2f} dB): colour "
                        f"learnt on these photos may not carry to others (--validation-path: photos of another source).")
