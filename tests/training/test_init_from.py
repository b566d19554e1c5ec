"""Warm starts (`--init-from`): a new run begins with another run's networks, fresh optimizers and step 0,
records where it started, refuses networks of another shape before writing anything, and a run with
checkpoints of its own resumes from them instead."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import TINY_TRAIN_ARGS
from tfcolor import config, train
from tfcolor.config import ConfigError, run_layout
from tfcolor.models import factory
from tfcolor.training import checkpoints, warm_start

SOURCE_ARGS = [*TINY_TRAIN_ARGS, "--ema-decay", "0.9", "--confidence", "--sample", "0"]
LR = 3e-4


@pytest.fixture(scope="module")
def source_run(tmp_path_factory) -> Path:
    """A tiny GAN with a moving average and a confidence network, 2 steps at 32 px, ckpt-1 and ckpt-2 (read-only)."""
    run = tmp_path_factory.mktemp("source") / "p32"
    assert train.main([*SOURCE_ARGS, "--checkpoints-path", str(run), "--max-steps", "2", "--save-interval", "1"]) == 0
    return run


@pytest.fixture(scope="module")
def warm_run(source_run, tmp_path_factory) -> Path:
    """One step at 64 px started from `source_run`'s networks, its discriminator too (read-only: tests copy it).
    Another seed than the source's, so the weights it would start from without the warm start are not the source's."""
    run = tmp_path_factory.mktemp("warm") / "p64"
    assert train.main([*SOURCE_ARGS, "--image-size", "64", "--init-from", str(source_run), "--init-discriminator",
                       "--checkpoints-path", str(run), "--max-steps", "1", "--lr", str(LR), "--seed", "7"]) == 0
    return run


def usage_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        train.main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def weights(network) -> list[np.ndarray]:
    return [w.numpy() for w in network.weights]


@pytest.mark.parametrize("discriminator", [False, True], ids=["generator-side", "with-discriminator"])
def test_a_warm_start_loads_the_source_networks_exactly_and_leaves_optimizers_and_step_fresh(source_run, discriminator):
    _, source = checkpoints.load_trained_model(source_run)
    settings = config.resolve({"base_filters": 8, "depth": 2, "ema_decay": 0.9, "confidence": True, "image_size": 64,
                               "init_from": str(source_run), "init_discriminator": discriminator})
    warm = warm_start.find_source(settings)
    assert warm.checkpoint == str((source_run / run_layout.CHECKPOINTS_DIR / "ckpt-2").resolve())
    taken = ("generator", "ema_generator", "confidence")
    assert warm.parts == taken + (("discriminator",) if discriminator else ())

    model = factory.build_colorizer(settings)
    fresh_discriminator = weights(model.discriminator)
    warm_start.initialise(model, warm)
    for name in taken + ("discriminator",):
        expected = weights(getattr(source, name)) if name in warm.parts else fresh_discriminator
        for got, want in zip(weights(getattr(model, name)), expected, strict=True):
            np.testing.assert_array_equal(got, want)
    # The source's moving average is not its generator: the average taken is the average.
    assert any(not np.array_equal(a, g) for a, g in zip(weights(source.ema_generator), weights(source.generator)))
    if not discriminator:
        assert any(not np.array_equal(a, b) for a, b in zip(fresh_discriminator, weights(source.discriminator)))
    assert int(model.trained_batches.numpy()) == 0
    assert all(int(o.iterations.numpy()) == 0 for o in (model.g_optimizer, model.d_optimizer, model.c_optimizer))


def test_a_new_run_without_a_source_average_starts_its_average_at_the_loaded_generator(source_run):
    settings = config.resolve({"base_filters": 8, "depth": 2, "ema_decay": 0.5, "init_from": str(source_run)})
    _, source = checkpoints.load_trained_model(source_run)
    warm = warm_start.find_source(settings)
    assert warm.parts == ("generator", "ema_generator")  # confidence: this run has none, so none is taken
    warm = warm_start.WarmStart(warm.checkpoint, ("generator",))  # as from a source without an average
    model = factory.build_colorizer(settings)
    warm_start.initialise(model, warm)
    for average, weight in zip(weights(model.ema_generator), weights(source.generator), strict=True):
        np.testing.assert_array_equal(average, weight)


def test_training_at_64_px_from_a_32_px_run_starts_at_its_weights_with_fresh_optimizers_and_records_it(
        source_run, warm_run):
    saved = json.loads((warm_run / run_layout.CONFIG_FILE).read_text())["train"]
    assert saved["init_from"] == str((source_run / run_layout.CHECKPOINTS_DIR / "ckpt-2").resolve())
    assert saved["init_parts"] == ["generator", "ema_generator", "confidence", "discriminator"]
    assert saved["init_discriminator"] is True
    _, source = checkpoints.load_trained_model(source_run)
    settings, model = checkpoints.load_trained_model(warm_run)
    assert settings.data.image_size == 64
    assert int(model.trained_batches.numpy()) == 1  # step 1, not the source's 3
    assert int(model.g_optimizer.iterations.numpy()) == 2 and int(model.d_optimizer.iterations.numpy()) == 1
    # The source's weights, an Adam update or two away: with beta1 = 0 the first moves a weight by at most lr,
    # the second by at most lr * sqrt(1 + beta2) < 1.5 lr; kernels drawn afresh (N(0, 0.02)) differ by ~0.03.
    for network, updates in (("generator", 2), ("discriminator", 1)):
        for got, want in zip(getattr(model, network).trainable_weights, getattr(source, network).trainable_weights,
                             strict=True):
            assert np.abs(got.numpy() - want.numpy()).max() <= updates * 1.25 * LR


def test_a_source_of_another_architecture_is_refused_naming_the_field_before_anything_is_written(
        source_run, tmp_path, capsys):
    run = tmp_path / "p64"
    wider = ["--base-filters", "16", "--depth", "2", "--batch-size", "8", "--demo-patches", "64", "--validate", "false"]
    err = usage_error([*wider, "--init-from", str(source_run), "--checkpoints-path", str(run)], capsys)
    assert "model.generator_filters (set by --network, or --base-filters and --depth): 8,16,32 there, 16,32,64 here" in err
    assert not run.exists()

    err = usage_error([*TINY_TRAIN_ARGS, "--color-space", "rgb", "--init-from", str(source_run),
                       "--checkpoints-path", str(run)], capsys)
    assert "data.color_space (--color-space): lab there, rgb here" in err
    assert not run.exists()


def test_weights_of_another_shape_are_refused_naming_the_variable(source_run):
    settings = config.resolve({"base_filters": 16, "depth": 2})
    warm = warm_start.WarmStart(str(source_run / run_layout.CHECKPOINTS_DIR / "ckpt-2"), ("generator",))
    with pytest.raises(ConfigError, match=r"do not fit this run's networks: .*shape .*encoder0_conv/kernel"):
        warm_start.initialise(factory.build_colorizer(settings), warm)


def test_init_from_a_path_that_is_no_run_is_a_usage_error(tmp_path, capsys):
    run = tmp_path / "p64"
    missing = tmp_path / "nowhere"
    err = usage_error([*TINY_TRAIN_ARGS, "--init-from", str(missing), "--checkpoints-path", str(run)], capsys)
    assert f"--init-from {missing}: {missing} is not a tfcolor run" in err
    assert not run.exists()


def test_init_discriminator_needs_init_from():
    with pytest.raises(ConfigError, match=r"train.init_discriminator \(--init-discriminator\): expected --init-from"):
        config.resolve({"init_discriminator": True})


def test_a_run_with_its_own_checkpoints_resumes_and_keeps_the_warm_start_it_recorded(source_run, warm_run,
                                                                                        tmp_path, capsys):
    run = tmp_path / "p64"
    shutil.copytree(warm_run, run)
    recorded = json.loads((run / run_layout.CONFIG_FILE).read_text())["train"]
    other = source_run / run_layout.CHECKPOINTS_DIR / "ckpt-1"
    assert train.main(["--checkpoints-path", str(run), "--max-steps", "2", "--init-from", str(other)]) == 0
    out = capsys.readouterr().out
    assert "Resuming from step 1" in out
    assert f"--init-from {other} ignored: the run resumes from its own checkpoints (it started from " \
           f"{recorded['init_from']})." in out
    assert "Starting from" not in out
    kept = json.loads((run / run_layout.CONFIG_FILE).read_text())["train"]
    assert {key: kept[key] for key in ("init_from", "init_parts", "init_discriminator")} == \
           {key: recorded[key] for key in ("init_from", "init_parts", "init_discriminator")}
    _, model = checkpoints.load_trained_model(run)
    assert int(model.trained_batches.numpy()) == 2 and int(model.g_optimizer.iterations.numpy()) == 4
