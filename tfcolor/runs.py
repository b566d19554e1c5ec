"""A run directory (`--checkpoints-path`): its layout, and loading a trained model back from it.

    <run>/config.json        the resolved RunConfig (rebuilds the model)
    <run>/checkpoints/       TensorFlow checkpoints: weights, both optimizers, step counter
    <run>/logs/              TensorBoard event files (train/, validation/)
    <run>/samples/           sample grids grayscale | original | colorized, as PNG
    <run>/log.csv            per-epoch losses and metrics (with --log)
"""
from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from tfcolor import gan, optimizers
from tfcolor.config import DataConfig, RunConfig

CONFIG_FILE = "config.json"
CHECKPOINTS_DIR = "checkpoints"
LOGS_DIR = "logs"
SAMPLES_DIR = "samples"
CSV_LOG_FILE = "log.csv"
CHECKPOINTS_KEPT = 3


class RunError(ValueError):
    """A path given as a run directory is not one (or holds no trained weights)."""


def checkpoint_for(model: gan.Colorizer, with_average: bool = True, with_rng: bool = True) -> tf.train.Checkpoint:
    """Everything training state needs: the networks (and the generator's moving average), their
    optimizers, the step counter and the dropout layers' random state.

    Named explicitly rather than through the Keras model's own attributes, so the layout stays the
    same whatever wraps the optimizers (loss scaling under mixed_float16): a run resumes under any
    precision, and checkpoints of earlier versions (`model/generator/...`) still restore. The
    random state lets a resumed run draw the dropout masks an uninterrupted one would.
    """
    names = ("generator", "discriminator", "ema_generator") if with_average else ("generator", "discriminator")
    networks = {name: getattr(model, name) for name in names if getattr(model, name, None) is not None}
    tracked = {name: optimizers.checkpointed(getattr(model, name))
               for name in ("g_optimizer", "d_optimizer") if hasattr(model, name)}
    if with_rng:
        tracked["dropout_rng"] = _dropout_states(model)
    state = tf.train.Checkpoint(trained_batches=model.trained_batches, **networks)
    return tf.train.Checkpoint(model=state, **tracked)


def _dropout_states(model: gan.Colorizer) -> dict[str, object]:
    networks = [model.generator, getattr(model, "discriminator", None)]
    layers = [layer for network in networks if network is not None for layer in network.layers
              if getattr(layer, "seed_generator", None) is not None]
    return {layer.name: layer.seed_generator.state for layer in layers}


def restore(model: gan.Colorizer, checkpoint: str) -> None:
    """Load `checkpoint` into `model`. Every object of the model must be in it, but for what earlier
    runs did not save: a moving average (then started from the restored weights) and the dropout
    random state (then as a fresh run's)."""
    saved = {name for name, _ in tf.train.list_variables(checkpoint)}
    with_average = any(name.startswith("model/ema_generator/") for name in saved)
    with_rng = any(name.startswith("dropout_rng/") for name in saved)
    checkpoint_for(model, with_average, with_rng).restore(checkpoint).expect_partial().assert_existing_objects_matched()
    if model.ema_generator is not None and not with_average:
        model.reset_ema()


def checkpoint_manager(model: gan.Colorizer, run_dir: str | Path) -> tf.train.CheckpointManager:
    return tf.train.CheckpointManager(checkpoint_for(model), str(Path(run_dir) / CHECKPOINTS_DIR), CHECKPOINTS_KEPT)


def load_config(run_dir: str | Path) -> RunConfig:
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise RunError(f"{run_dir} is not a tfcolor run: {CONFIG_FILE} is missing (train one with python -m tfcolor.train).")
    return RunConfig.load(path)


def resolve(run_or_checkpoint: str | Path) -> tuple[Path, str]:
    """A run directory, or one checkpoint inside it (`RUN/checkpoints/ckpt-30`) -> (run dir, checkpoint prefix).

    Raises:
        RunError: neither a run directory with a checkpoint nor an existing checkpoint.
    """
    path = Path(run_or_checkpoint)
    if Path(f"{path}.index").is_file():
        return path.parent.parent, str(path)
    latest = tf.train.latest_checkpoint(str(path / CHECKPOINTS_DIR))
    if latest is None:
        load_config(path)  # a clearer message when it is no run at all
        on_disk = sorted((path / CHECKPOINTS_DIR).glob("ckpt-*.index"), key=lambda p: int(p.stem.split("-")[1]))
        if on_disk:
            raise RunError(f"{path / CHECKPOINTS_DIR / 'checkpoint'} is missing or unreadable; name a checkpoint "
                           f"instead, e.g. {str(on_disk[-1])[:-len('.index')]}")
        raise RunError(f"{path} holds no checkpoint yet under {CHECKPOINTS_DIR}/.")
    return path, latest


def load_model(run_or_checkpoint: str | Path) -> tuple[RunConfig, gan.Colorizer]:
    """The run's config and its model with the newest (or the named) checkpoint's weights.

    Raises:
        RunError: no config or no checkpoint there.
    """
    run_dir, checkpoint = resolve(run_or_checkpoint)
    config = load_config(run_dir)
    model = gan.build_colorizer(config)
    restore(model, checkpoint)
    return config, model


def held_out_data(trained_on: DataConfig, dataset: str | None = None, dataset_path: str | None = None,
                  image_size: int | None = None) -> DataConfig:
    """The photos to judge a run on: its own dataset and size unless told otherwise.

    The run's dataset path is kept only when the dataset is the one it was trained on.
    """
    dataset = dataset or trained_on.dataset
    if dataset_path is None and dataset == trained_on.dataset:
        dataset_path = trained_on.dataset_path
    return DataConfig(dataset=dataset, dataset_path=dataset_path, image_size=image_size or trained_on.image_size)
