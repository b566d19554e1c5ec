"""`python -m tfcolor.train`: train the colorization GAN (or the U-Net baseline) and resume it.

    python -m tfcolor.train --dataset cifar10 --dataset-path DATA --checkpoints-path runs/cifar10

The original (ImagingLab) code's option names and defaults; each flag sets one `RunConfig` field.
Re-running with the same `--checkpoints-path` resumes from the newest checkpoint (weights,
optimizers and step). `--init-from RUN` starts a new run from another run's networks with fresh
optimizers and step (progressive training: the image size may differ; `tfcolor.training.warm_start`).
SIGTERM or Ctrl-C finishes the current batch, saves it and exits with status 75 (`EXIT_PREEMPTED`),
so a rerun loses nothing; a second signal exits at once. From Python:
`train(config, run_dir)` (`tfcolor.training.loop`), with a config from `tfcolor.config.resolve`.
"""
from __future__ import annotations

import argparse
import sys
import warnings

from tfcolor.config import PRESETS, ConfigError, flags
from tfcolor.config.run_layout import RunError
from tfcolor.data.skips import DatasetError
from tfcolor.training import runtime
from tfcolor.training.checkpoints import ResumeError
from tfcolor.training.loop import TrainingDiverged, train
from tfcolor.training.preemption import EXIT_PREEMPTED, TrainingPreempted

__all__ = ["EXIT_PREEMPTED", "TrainingDiverged", "TrainingPreempted", "build_parser", "main", "train"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tfcolor.train",
        description="Train the colorization GAN (Nazeri et al. 2018) or its U-Net baseline on Lab images.",
        epilog="Defaults come from the dataset's preset (the original's published settings): "
        + "; ".join(
            f"{name}: batch {p.train.batch_size}, {p.train.epochs} epochs, {p.data.image_size}px, "
            f"{p.model.network_preset} network"
            for name, p in PRESETS.items()
        )
        + ". Everything else: seed 100, lr 3e-4 (discriminator 3e-5), beta1 0, l1-weight 100, "
        "lr decay 0.1 per 1e5 batches, acc-thresh 2. Resuming keeps the saved run's settings.",
    )
    parser.add_argument("--config", metavar="FILE",
                        help="start from this run config JSON (e.g. tune's best_config.json); flags override it")
    flags.add_run_flag(parser, "run directory for checkpoints, logs, samples and config "
                 "(default: checkpoints/<name>); re-running with it resumes")
    flags.add_config_flags(parser)
    parser.add_argument("--gpu-ids", help="comma-separated GPU indices to use, -1 for CPU only")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--resume-from", metavar="ckpt-N",
                        help="resume from this checkpoint of the run instead of the newest (newer ones are moved aside)")
    choice.add_argument("--restart", action="store_true",
                        help="start the run over from step 0 (its checkpoints are moved aside, never deleted)")
    return parser


def main(argv: list[str] | None = None) -> int:
    # The validation set's length is unknown until read (skipped images); its end is not a problem.
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config, run_dir = flags.resolve_run(args)
        runtime.select_gpus(args.gpu_ids)
        strategy = runtime.make_strategy(config.train.strategy)
        train(config, run_dir, resume_from=args.resume_from, restart=args.restart, strategy=strategy)
    except (ConfigError, RunError) as error:
        parser.error(str(error))
    except (DatasetError, TrainingDiverged, ResumeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except TrainingPreempted as error:
        print(f"stopped: {error}", file=sys.stderr)
        return EXIT_PREEMPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
