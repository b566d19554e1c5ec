"""A trained run's colorizer for inference: its generator alone, restored from a checkpoint.

Colorizing, evaluating, exporting and the Turing test use only the generator that colorizes (the
moving average of the weights where the run kept one), so they restore just that part of a
checkpoint: no discriminator, no optimizers, no learning-rate schedule is built. A checkpoint whose
discriminator or optimizer variables are missing still colorizes. `restore_networks` loads any
named networks of a checkpoint and nothing else: training's warm starts (`--init-from`) use it too.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import keras
import tensorflow as tf

from tfcolor.config import RunConfig, run_layout
from tfcolor.config.run_layout import CHECKPOINTS_DIR, RunError
from tfcolor.models.colorizer import Colorizer
from tfcolor.models.factory import build_inference_colorizer


def find_checkpoint(run_or_checkpoint: str | Path) -> tuple[Path, str]:
    """A run directory, or one checkpoint inside it (`RUN/checkpoints/ckpt-30`) -> (run dir, checkpoint prefix).

    Raises:
        RunError: neither a run directory with a checkpoint nor an existing checkpoint.
    """
    path = Path(run_or_checkpoint)
    if Path(f"{path}.index").is_file():
        return path.parent.parent, str(path)
    latest = tf.train.latest_checkpoint(str(path / CHECKPOINTS_DIR))
    if latest is None:
        run_layout.load_config(path)  # a clearer message when it is no run at all
        on_disk = sorted((path / CHECKPOINTS_DIR).glob("ckpt-*.index"), key=lambda p: int(p.stem.split("-")[1]))
        if on_disk:
            raise RunError(f"{path / CHECKPOINTS_DIR / run_layout.STATE_FILE} is missing or unreadable; name a "
                           f"checkpoint instead, e.g. {str(on_disk[-1])[:-len('.index')]}")
        raise RunError(f"{path} holds no checkpoint yet under {CHECKPOINTS_DIR}/.")
    return path, latest


def saved_networks(checkpoint: str) -> set[str]:
    """The networks a training checkpoint holds, by the names it saves them under (`generator`,
    `ema_generator`, `discriminator`, `confidence`); not the step counter or the optimizers."""
    paths = (name.split("/") for name, _ in tf.train.list_variables(checkpoint))
    return {path[1] for path in paths if len(path) > 3 and path[0] == "model" and path[2] != ".ATTRIBUTES"}


def restore_networks(networks: Mapping[str, keras.Model], checkpoint: str) -> None:
    """Load the named networks of a checkpoint (`{"generator": model.generator}`) and nothing else of it.

    Raises:
        AssertionError: the checkpoint lacks a weight of one of them (another network).
        ValueError: a weight of another shape; TensorFlow's message names the variable.
    """
    state = tf.train.Checkpoint(**networks)
    tf.train.Checkpoint(model=state).restore(checkpoint).expect_partial().assert_existing_objects_matched()


def restore_generator(model: Colorizer, checkpoint: str) -> None:
    """Load the checkpoint's colorizing generator (its moving average when it has one) into `model.generator`,
    and its confidence network where the model has one.

    Raises:
        AssertionError: the checkpoint lacks a weight of the generator or the confidence network (another model).
    """
    source = "ema_generator" if "ema_generator" in saved_networks(checkpoint) else "generator"
    networks = {source: model.generator}
    if model.confidence is not None:
        networks["confidence"] = model.confidence
    restore_networks(networks, checkpoint)


def load_colorizer(run_or_checkpoint: str | Path) -> tuple[RunConfig, Colorizer]:
    """The run's config and its float32 inference colorizer, with the newest (or the named) checkpoint's generator.

    Raises:
        RunError: no config or no checkpoint there.
    """
    found_dir, checkpoint = find_checkpoint(run_or_checkpoint)
    config = run_layout.load_config(found_dir)
    model = build_inference_colorizer(config)
    restore_generator(model, checkpoint)
    return config, model
