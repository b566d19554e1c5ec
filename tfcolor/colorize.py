"""`python -m tfcolor.colorize`: the original code's test mode, colorize a photo or a folder of photos.

    python -m tfcolor.colorize --checkpoints-path RUN --test-input IN --test-output OUT

Each input (colour or grayscale, any size) becomes `OUT/<its name>.png` (sub-folders kept) at the
input's own size. A file that cannot be used (unreadable, not an image, a name that is not UTF-8,
more pixels than `--max-pixels`) is skipped with its reason and the rest is processed; `--strict`
makes any skip fail the run (exit 1). `--upsample guided` brings the colours predicted at the model's
size to the photo's along its own lightness edges (default: bilinear). From Python:
`colorize_paths(run, IN, OUT)`.
"""
from __future__ import annotations

import argparse
import sys

from tfcolor.config import ConfigError, flags, run_layout
from tfcolor.data import skips
from tfcolor.models import upsampling
from tfcolor.models.photo_colorizing import ColorizeSummary, colorize_paths

__all__ = ["ColorizeSummary", "build_parser", "colorize_paths", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tfcolor.colorize",
        description="Colorize photos with a trained tfcolor run; outputs are PNGs at the inputs' sizes.",
    )
    flags.add_run_flag(parser, "run directory written by python -m tfcolor.train (or one checkpoint in it)",
                       required=True)
    parser.add_argument("--test-input", required=True, help="a photo, or a folder of photos (searched recursively)")
    parser.add_argument("--test-output", required=True, help="folder for the colorized PNGs")
    parser.add_argument("--render-size", "--image-size", dest="image_size", type=flags.positive_int, metavar="N",
                        help="side of the square the model colorizes each photo at (DeOldify's render factor; "
                             "default: its training size): larger sees more detail, smaller gives broader colour")
    flags.add_upsample_flag(parser, tuple(upsampling.METHODS), upsampling.DEFAULT_METHOD)
    flags.add_skip_flags(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        summary = colorize_paths(args.checkpoints_path, args.test_input, args.test_output, args.image_size,
                                 report=lambda line: print(line, file=sys.stderr), max_pixels=args.max_pixels,
                                 upsample=args.upsample)
    except (FileNotFoundError, skips.DatasetError, run_layout.RunError, ConfigError) as error:
        parser.error(str(error))
    done, total = len(summary.written), len(summary.written) + len(summary.skipped)
    skipped = f" ({len(summary.skipped)} skipped)" if summary.skipped else ""
    print(f"Colorized {done} of {total} images into {args.test_output}{skipped}")
    return 1 if not done or (args.strict and summary.skipped) else 0


if __name__ == "__main__":
    sys.exit(main())
