"""A run directory (`--checkpoints-path`): its layout, its saved config, and the data to judge it on.

    <run>/config.json        the resolved RunConfig (rebuilds the model)
    <run>/checkpoints/       TensorFlow checkpoints: weights, both optimizers, step counter
    <run>/logs/              TensorBoard event files (train/, validation/)
    <run>/samples/           sample grids grayscale | original | colorized, as PNG
    <run>/log.csv            per-epoch losses and metrics (with --log)

Names only, no TensorFlow: reading and writing checkpoints is `tfcolor.training.checkpoints`' job
(training) and `tfcolor.models.restoring`'s (inference).
"""
from __future__ import annotations

import os
from pathlib import Path

from tfcolor.config import DataConfig, RunConfig

CONFIG_FILE = "config.json"
CHECKPOINTS_DIR = "checkpoints"
LOGS_DIR = "logs"
SAMPLES_DIR = "samples"
CSV_LOG_FILE = "log.csv"
CHECKPOINTS_KEPT = 3
# TensorFlow's checkpoint state file, naming the newest checkpoint and the ones kept.
STATE_FILE = "checkpoint"


class RunError(ValueError):
    """A path given as a run directory is not one (or holds no trained weights)."""


def save_config(run_dir: Path, config: RunConfig) -> Path:
    """Write the run's `config.json` so that a crash or a power cut at any moment leaves the old file or
    the new one, never a part: a temporary file beside it, flushed to disk, renamed over it, and the
    folder's entry flushed too."""
    path = Path(run_dir) / CONFIG_FILE
    temporary = path.with_name(f".{CONFIG_FILE}.{os.getpid()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as file:
            file.write(config.to_json())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    fsync_entry(path.parent)
    return path


def fsync_entry(path: Path) -> None:
    """Flush a file's bytes, or a folder's entries (a rename into it, a new file), to disk."""
    descriptor = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if Path(path).is_dir() else 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def load_config(run_dir: str | Path) -> RunConfig:
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise RunError(f"{run_dir} is not a tfcolor run: {CONFIG_FILE} is missing (train one with python -m tfcolor.train).")
    return RunConfig.load(path)


def held_out_data(trained_on: DataConfig, dataset: str | None = None, dataset_path: str | None = None,
                  image_size: int | None = None) -> DataConfig:
    """The photos to judge a run on: its own dataset and size unless told otherwise.

    The run's dataset path is kept only when the dataset is the one it was trained on.
    """
    dataset = dataset or trained_on.dataset
    if dataset_path is None and dataset == trained_on.dataset:
        dataset_path = trained_on.dataset_path
    return DataConfig(dataset=dataset, dataset_path=dataset_path, image_size=image_size or trained_on.image_size)
