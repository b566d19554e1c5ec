"""keras-tuner search over the GAN's hyper-parameters: the hypermodel, the tuners and one search.

Searches learning rate, L1 weight, Adam's beta1, label smoothing, generator width (base filters)
and dropout, scoring each trial by validation pixel accuracy (`accuracy`) or L1 (`l1`) from
`test_step`. Every trial logs to TensorBoard with the HParams dashboard filled in. The best
configuration is written to `DIR/best_config.json`, which `python -m tfcolor.train --config`
accepts; searching the same directory again resumes an interrupted search.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import keras_tuner
import tensorflow as tf

from tfcolor.config import RunConfig, general_unet, with_network_tables
from tfcolor.data import skips
from tfcolor.data.pipelines import make_pipelines
from tfcolor.models import factory
from tfcolor.training import runtime

OBJECTIVES = {"accuracy": keras_tuner.Objective("val_accuracy", "max"), "l1": keras_tuner.Objective("val_l1", "min")}
ALGORITHMS = ("hyperband", "random", "bayesian")
BEST_CONFIG_FILE = "best_config.json"
DEFAULT_WIDTHS = (16, 32, 64)
DEFAULT_TRIAL_EPOCHS = 2


class ColorizationHyperModel(keras_tuner.HyperModel):
    """Builds the ColorizationGAN of `base` with the searched hyper-parameters applied."""

    def __init__(self, base: RunConfig, widths: tuple[int, ...] = DEFAULT_WIDTHS):
        super().__init__(name="tfcolor")
        self.base = base
        self.widths = tuple(widths)

    def config_for(self, hp: keras_tuner.HyperParameters) -> RunConfig:
        width = hp.Choice("base_filters", list(self.widths))
        dropout = hp.Choice("dropout", [0.0, 0.5], default=0.5)
        train = dataclasses.replace(
            self.base.train,
            lr=hp.Float("lr", 1e-5, 1e-3, sampling="log", default=3e-4),
            l1_weight=hp.Float("l1_weight", 10.0, 300.0, sampling="log", default=100.0),
            beta1=hp.Choice("beta1", [0.0, 0.5], default=0.0),
            label_smoothing=hp.Boolean("label_smoothing", default=False),
        )
        tables = general_unet(width, self.base.model.depth, "gan", dropout)
        model = dataclasses.replace(with_network_tables(self.base.model, tables), model="gan")
        return RunConfig(data=self.base.data, model=model, train=train).validate()

    def build(self, hp):
        config = self.config_for(hp)
        model = factory.build_colorizer(config, jit_compile=runtime.use_xla(config.train.jit_compile),
                                    precision=runtime.resolve_precision(config.train.precision))
        size = config.data.image_size
        model(tf.zeros((1, size, size, 1)))  # built, so keras-tuner can save the best epoch's weights
        return model

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, **kwargs)


def make_tuner(algorithm: str, hypermodel: ColorizationHyperModel, objective: str, max_trials: int,
               epochs: int, directory: Path, seed: int) -> keras_tuner.Tuner:
    common = dict(objective=OBJECTIVES[objective], directory=str(directory), project_name="search",
                  overwrite=False, seed=seed)
    if algorithm == "hyperband":
        return keras_tuner.Hyperband(hypermodel, max_epochs=max(epochs, 2), factor=3, max_consecutive_failed_trials=1, **common)
    tuner_class = keras_tuner.RandomSearch if algorithm == "random" else keras_tuner.BayesianOptimization
    return tuner_class(hypermodel, max_trials=max_trials, max_consecutive_failed_trials=1, **common)


def steps_per_trial_epoch(steps_per_epoch: int, epochs: int, max_steps: int | None) -> int:
    """Batches in each epoch of a trial: whole epochs, or at most `max_steps` in all, split evenly
    (`--max-steps` means total batches in every command)."""
    if not max_steps:
        return steps_per_epoch
    return min(steps_per_epoch, max(1, max_steps // epochs))


def search(base: RunConfig, directory: str | Path, algorithm: str = "bayesian", objective: str = "accuracy",
           max_trials: int = 10, widths: tuple[int, ...] = DEFAULT_WIDTHS) -> tuple[RunConfig, keras_tuner.engine.trial.Trial]:
    """Run (or resume) a search around `base`; each trial trains `base.train.epochs` epochs, at most
    `base.train.max_steps` batches in all. Writes `DIR/best_config.json`; returns it and the best trial.

    Raises:
        DatasetError: the dataset is unusable or has no validation images to score trials on.
    """
    base.validate()
    directory = Path(directory)
    keras.utils.set_random_seed(base.train.seed)
    runtime.without_failing_remapper()
    pipelines = make_pipelines(base.data, base.train.batch_size, base.train.seed)
    if pipelines.validation is None:
        raise skips.DatasetError("the search needs validation images to score trials.")
    hypermodel = ColorizationHyperModel(base, tuple(widths))
    epochs = base.train.epochs
    tuner = make_tuner(algorithm, hypermodel, objective, max_trials, epochs, directory, base.train.seed)
    steps = steps_per_trial_epoch(pipelines.steps_per_epoch, epochs, base.train.max_steps)
    tuner.search(
        pipelines.train, validation_data=pipelines.validation, epochs=epochs, steps_per_epoch=steps,
        shuffle=False, verbose=2, callbacks=[keras.callbacks.TensorBoard(str(directory / "tensorboard"), write_graph=False)],
    )
    best = hypermodel.config_for(tuner.get_best_hyperparameters(1)[0])
    (directory / BEST_CONFIG_FILE).write_text(best.to_json(), encoding="utf-8")
    return best, tuner.oracle.get_best_trials(1)[0]
