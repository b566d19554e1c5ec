"""Inference restores the generator it uses and builds nothing else: a checkpoint without the
discriminator or the optimizers still exports and colorizes."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import export
from tests.helpers import photo_crops, save_image
from tfcolor import colorize, config
from tfcolor.config import run_layout
from tfcolor.models import factory, restoring


def generator_only_run(run_dir, ema: bool):
    """A run directory whose checkpoint holds the generator (or its moving average) and nothing else."""
    settings = config.resolve({"base_filters": 8, "depth": 2, "precision": "float32", "ema_decay": 0.9 if ema else 0.0})
    model = factory.build_inference_colorizer(settings)
    saved_as = "ema_generator" if ema else "generator"
    state = tf.train.Checkpoint(model=tf.train.Checkpoint(**{saved_as: model.generator}))
    tf.train.CheckpointManager(state, str(run_dir / run_layout.CHECKPOINTS_DIR), 1).save(checkpoint_number=5)
    (run_dir / run_layout.CONFIG_FILE).write_text(settings.to_json())
    return model


@pytest.mark.slow
@pytest.mark.parametrize("ema", [False, True], ids=["generator", "moving-average"])
def test_a_checkpoint_without_discriminator_or_optimizers_exports_and_colorizes(tmp_path, ema):
    run = tmp_path / "run"
    saved = generator_only_run(run, ema)
    _, loaded = restoring.load_colorizer(run)
    assert not hasattr(loaded, "discriminator") and not hasattr(loaded, "g_optimizer")
    l_scaled = tf.random.stateless_uniform((1, 32, 32, 1), (3, 4), -1.0, 1.0)
    np.testing.assert_array_equal(loaded.predict_color(l_scaled).numpy(), saved.predict_color(l_scaled).numpy())

    version = export.export_run(run, tmp_path / "models" / "tfcolor")
    assert (version / "saved_model.pb").is_file()
    save_image(tmp_path / "in" / "photo.png", photo_crops(1, size=48)[0])
    summary = colorize.colorize_paths(run, tmp_path / "in", tmp_path / "out")
    assert [p.name for p in summary.written] == ["photo.png"]


def test_a_checkpoint_of_another_network_is_refused(tmp_path):
    run = tmp_path / "run"
    generator_only_run(run, ema=False)
    wider = config.resolve({"base_filters": 16, "depth": 2, "precision": "float32"})
    (run / run_layout.CONFIG_FILE).write_text(wider.to_json())
    with pytest.raises((AssertionError, ValueError)):
        restoring.load_colorizer(run)
