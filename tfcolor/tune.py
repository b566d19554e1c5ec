"""`python -m tfcolor.tune`: keras-tuner search over the GAN's hyper-parameters.

    python -m tfcolor.tune --dataset cifar10 --dataset-path DATA --algorithm bayesian --max-trials 20 --directory tuning

Searches learning rate, L1 weight, Adam's beta1, label smoothing, generator width (base filters)
and dropout, scoring each trial by validation pixel accuracy (`--objective accuracy`) or L1
(`--objective l1`) from `test_step`. Every trial logs to TensorBoard with the HParams dashboard
filled in (`tensorboard --logdir DIR/tensorboard`). The best configuration is written to
`DIR/best_config.json`, which `python -m tfcolor.train --config` accepts. Re-running the same
command resumes an interrupted search.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import keras
import keras_tuner
import tensorflow as tf

from tfcolor import data, gan
from tfcolor.config import DATASETS, PRESETS, RunConfig, filters_for_depth, network_depth

OBJECTIVES = {"accuracy": keras_tuner.Objective("val_accuracy", "max"), "l1": keras_tuner.Objective("val_l1", "min")}
ALGORITHMS = ("hyperband", "random", "bayesian")
BEST_CONFIG_FILE = "best_config.json"
DEFAULT_WIDTHS = (16, 32, 64)


class ColorizationHyperModel(keras_tuner.HyperModel):
    """Builds the ColorizationGAN of `base` with the searched hyper-parameters applied."""

    def __init__(self, base: RunConfig, widths: tuple[int, ...] = DEFAULT_WIDTHS):
        super().__init__(name="tfcolor")
        self.base = base
        self.widths = tuple(widths)

    def config_for(self, hp: keras_tuner.HyperParameters) -> RunConfig:
        depth = network_depth(self.base.model)
        width = hp.Choice("base_filters", list(self.widths))
        dropout = hp.Choice("dropout", [0.0, 0.5], default=0.5)
        model = dataclasses.replace(
            self.base.model, model="gan", network_preset="custom",
            generator_filters=filters_for_depth(width, depth),
            generator_dropout=tuple(dropout if i < 2 else 0.0 for i in range(depth)),
            discriminator_filters=filters_for_depth(width, 3),
        )
        train = dataclasses.replace(
            self.base.train,
            lr=hp.Float("lr", 1e-5, 1e-3, sampling="log", default=3e-4),
            l1_weight=hp.Float("l1_weight", 10.0, 300.0, sampling="log", default=100.0),
            beta1=hp.Choice("beta1", [0.0, 0.5], default=0.0),
            label_smoothing=hp.Boolean("label_smoothing", default=False),
        )
        return RunConfig(data=self.base.data, model=model, train=train)

    def build(self, hp):
        config = self.config_for(hp)
        model = gan.build_colorizer(config)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tfcolor.tune", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=DATASETS, default="demo")
    parser.add_argument("--dataset-path")
    parser.add_argument("--image-size", type=int, help="default: the dataset preset's")
    parser.add_argument("--demo-patches", type=int, help="training patches of the embedded data per epoch")
    parser.add_argument("--algorithm", choices=ALGORITHMS, default="bayesian")
    parser.add_argument("--objective", choices=sorted(OBJECTIVES), default="accuracy",
                        help="validation pixel accuracy (maximised) or L1 (minimised)")
    parser.add_argument("--max-trials", type=int, default=10, help="trials to run (random, bayesian)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per trial (hyperband: the maximum)")
    parser.add_argument("--max-steps", type=int, help="cap on batches per epoch of each trial (quick searches)")
    parser.add_argument("--batch-size", type=int, help="default: the dataset preset's")
    parser.add_argument("--widths", type=int, nargs="+", default=list(DEFAULT_WIDTHS),
                        help="generator base-filter choices")
    parser.add_argument("--directory", required=True, help="search folder: trials, TensorBoard logs, best_config.json")
    parser.add_argument("--seed", type=int, default=100)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    preset = PRESETS[args.dataset]
    data_overrides = {k: v for k, v in (("dataset_path", args.dataset_path), ("image_size", args.image_size),
                                        ("demo_patches", args.demo_patches)) if v is not None}
    base = dataclasses.replace(
        preset,
        data=dataclasses.replace(preset.data, **data_overrides),
        train=dataclasses.replace(preset.train, batch_size=args.batch_size or preset.train.batch_size, seed=args.seed),
    )
    keras.utils.set_random_seed(args.seed)
    try:
        pipelines = data.make_pipelines(base.data, base.train.batch_size, args.seed)
    except data.DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if pipelines.validation is None:
        print("error: the search needs validation images to score trials.", file=sys.stderr)
        return 1
    directory = Path(args.directory)
    hypermodel = ColorizationHyperModel(base, tuple(args.widths))
    tuner = make_tuner(args.algorithm, hypermodel, args.objective, args.max_trials, args.epochs, directory, args.seed)
    steps = min(pipelines.steps_per_epoch, args.max_steps or pipelines.steps_per_epoch)
    tuner.search(
        pipelines.train, validation_data=pipelines.validation, epochs=args.epochs, steps_per_epoch=steps,
        shuffle=False, verbose=2, callbacks=[keras.callbacks.TensorBoard(str(directory / "tensorboard"), write_graph=False)],
    )
    best_hp = tuner.get_best_hyperparameters(1)[0]
    best = hypermodel.config_for(best_hp)
    best_trial = tuner.oracle.get_best_trials(1)[0]
    (directory / BEST_CONFIG_FILE).write_text(best.to_json(), encoding="utf-8")
    print(f"Best trial {best_trial.trial_id}: {OBJECTIVES[args.objective].name} = {best_trial.score:.4f} "
          f"with {best_hp.values}")
    print(f"Best config: {directory / BEST_CONFIG_FILE} (train with: python -m tfcolor.train --config "
          f"{directory / BEST_CONFIG_FILE} --checkpoints-path runs/tuned)")
    print(f"TensorBoard (HParams tab): tensorboard --logdir {directory / 'tensorboard'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
