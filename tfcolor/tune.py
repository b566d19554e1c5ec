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
import sys
from pathlib import Path

from tfcolor.config import ConfigError, flags, resolve
from tfcolor.data.skips import DatasetError
from tfcolor.training.tuning import (
    ALGORITHMS,
    BEST_CONFIG_FILE,
    DEFAULT_TRIAL_EPOCHS,
    DEFAULT_WIDTHS,
    OBJECTIVES,
    search,
    steps_per_trial_epoch,
)

__all__ = ["build_parser", "main", "search", "steps_per_trial_epoch"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tfcolor.tune", description=__doc__.splitlines()[0])
    flags.add_config_flags(
        parser, ("--dataset", "--dataset-path", "--image-size", "--demo-patches", "--batch-size", "--seed",
                 "--epochs", "--max-steps"),
        overrides={"--epochs": f"epochs per trial (hyperband: the maximum; default {DEFAULT_TRIAL_EPOCHS})",
                   "--max-steps": "batches per trial in total, split evenly over its epochs (quick searches)",
                   "--dataset": "dataset to search on (default: the embedded demo photos)"},
    )
    parser.add_argument("--algorithm", choices=ALGORITHMS, default="bayesian")
    parser.add_argument("--objective", choices=sorted(OBJECTIVES), default="accuracy",
                        help="validation pixel accuracy (maximised) or L1 (minimised)")
    parser.add_argument("--max-trials", type=flags.positive_int, default=10, help="trials to run (random, bayesian)")
    parser.add_argument("--widths", type=flags.positive_int, nargs="+", default=list(DEFAULT_WIDTHS),
                        help="generator base-filter choices")
    parser.add_argument("--directory", required=True, help="search folder: trials, TensorBoard logs, best_config.json")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {"epochs": DEFAULT_TRIAL_EPOCHS, **flags.config_overrides(args)}
    try:
        base = resolve(overrides)
    except ConfigError as error:
        parser.error(str(error))
    directory = Path(args.directory)
    try:
        best, trial = search(base, directory, args.algorithm, args.objective, args.max_trials, tuple(args.widths))
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Best trial {trial.trial_id}: {OBJECTIVES[args.objective].name} = {trial.score:.4f} "
          f"with {trial.hyperparameters.values}")
    print(f"Best config: {directory / BEST_CONFIG_FILE} (train with: python -m tfcolor.train --config "
          f"{directory / BEST_CONFIG_FILE} --checkpoints-path runs/tuned)")
    print(f"TensorBoard (HParams tab): tensorboard --logdir {directory / 'tensorboard'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
