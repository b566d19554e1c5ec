"""`python -m tfcolor.evaluate`: the paper's comparison, runs against each other and against gray.

    python -m tfcolor.evaluate --run runs/gan --run runs/unet --dataset cifar10 --dataset-path DATA

(`--run` is the short alias of `--checkpoints-path`, as in every command.) From Python:
`evaluate([run, ...], output)`.

For every run and for the trivial "keep it gray" baseline (ab = 0): the original code's pixel accuracy at
`--acc-thresh` and over a sweep of thresholds, PSNR and SSIM on RGB, the AuC of the per-pixel ab
error CDF (0..150), and the colourfulness of the outputs beside the ground truth's. Inference is
deterministic and the images come in a fixed order, so the same inputs and weights give the same
numbers on every run.

`--full-resolution` also scores what `tfcolor.colorize` writes: the same photos at their own sizes,
colorized as colorize does (`--upsample bilinear` or `guided`), against the originals: PSNR, mean
CIEDE2000, colourfulness and ΔCF, in a table and a metrics.json section of their own.
"""
from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from tfcolor.config import DATASETS, ConfigError, flags
from tfcolor.config.run_layout import RunError
from tfcolor.data.skips import DatasetError, describe_skipped
from tfcolor.evaluation import report
from tfcolor.evaluation.scoring import evaluate
from tfcolor.models import upsampling

__all__ = ["build_parser", "evaluate", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tfcolor.evaluate",
        description="Compare trained runs and the keep-it-gray baseline on held-out photos.",
    )
    flags.add_run_flag(parser, "a run directory; repeat to compare several", action="append", default=[])
    parser.add_argument("--dataset", choices=DATASETS, help="default: the first run's dataset")
    parser.add_argument("--dataset-path", help="default: the first run's dataset path")
    parser.add_argument("--image-size", type=flags.positive_int, help="evaluation size (default: the first run's training size)")
    parser.add_argument("--acc-thresh", type=float, default=2.0, help="threshold of the headline pixel accuracy")
    parser.add_argument("--max-images", type=flags.positive_int, help="evaluate on at most this many images")
    parser.add_argument("--batch-size", type=flags.positive_int, default=32, help="images per inference batch")
    parser.add_argument("--examples", type=flags.positive_int, default=8, help="example colorizations per grid")
    parser.add_argument("--output", help="folder for the results (default: a new evaluation-<time> folder here)")
    parser.add_argument("--full-resolution", action="store_true",
                        help="also score the photos at their own sizes, as tfcolor.colorize writes them")
    flags.add_upsample_flag(parser, tuple(upsampling.METHODS), upsampling.DEFAULT_METHOD,
                            "with --full-resolution, how a*b*, predicted at the model's size, reach the photo's")
    flags.add_skip_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.upsample != upsampling.DEFAULT_METHOD and not args.full_resolution:
        parser.error(f"--upsample {args.upsample} applies to the full-resolution scores: add --full-resolution")
    output = Path(args.output or f"evaluation-{datetime.datetime.now():%Y%m%d-%H%M%S}")
    try:
        results = evaluate(args.checkpoints_path, output, args.dataset, args.dataset_path, args.image_size,
                           args.acc_thresh, args.max_images, args.batch_size, args.examples, args.max_pixels,
                           args.full_resolution, args.upsample)
    except (RunError, ConfigError) as error:
        parser.error(str(error))
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(report.terminal_table(results))
    skipped = results["skipped"]
    for name, reason in skipped["names"].items():
        print(f"skipped {name}: {reason}", file=sys.stderr)
    line = describe_skipped(skipped)
    if line or skipped["names"]:
        print(f"Skipped {line or 'no images'} of {skipped['files']} read, and {len(skipped['names'])} by name.",
              file=sys.stderr)
    print(f"Results: {', '.join(results['written'])}")
    return 1 if args.strict and (line or skipped["names"]) else 0


if __name__ == "__main__":
    sys.exit(main())
