"""`python -m export --checkpoints-path RUN --output MODELS/NAME [--version N] [--max-pixels N] [--max-batch N]
[--max-request-pixels N]`:
export a run for TF-Serving."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from export import exporting, signatures
from export.limits import Limits
from export.version_names import RULE, version_flag
from tfcolor.config import ConfigError, flags, run_layout
from tfcolor.models import upsampling


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description="Export a trained tfcolor run as a SavedModel version that TF-Serving can load.",
    )
    flags.add_run_flag(parser, "run directory (--checkpoints-path of training) or one checkpoint in it", required=True)
    parser.add_argument("--output", required=True,
                        help="model base path, e.g. models/tfcolor; versions go in numbered sub-folders")
    parser.add_argument("--version", type=version_flag, help=f"version number ({RULE}; default: the next one)")
    parser.add_argument("--image-size", type=flags.positive_int,
                        help="resolution the model predicts at (default: its training size)")
    flags.add_max_pixels_flag(parser, "largest image (height x width) a request may carry; larger ones are "
                                      "refused before decoding")
    parser.add_argument("--max-batch", type=flags.positive_int, default=Limits.max_batch,
                        help="most images one request may carry (default: %(default)s)")
    parser.add_argument("--max-request-pixels", type=flags.positive_int, default=Limits.max_request_pixels,
                        help="pixels (height x width) summed over one request's images, read from their headers; "
                             "a request over it is refused before anything is decoded (default: %(default)s)")
    parser.add_argument("--max-render-size", type=flags.positive_int, default=Limits.max_render_size,
                        help="largest render_size the colorize_render_size signature accepts (default: %(default)s)")
    flags.add_upsample_flag(parser, tuple(upsampling.METHODS), upsampling.DEFAULT_METHOD,
                            "how the signatures bring a*b*, predicted at the model's size, to each photo's size")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    base = Path(args.output)
    try:
        limits = Limits(args.max_pixels, args.max_batch, args.max_request_pixels, args.max_render_size)
        path = exporting.export_run(args.checkpoints_path, base, args.version, args.image_size, limits, args.upsample)
    except (run_layout.RunError, ConfigError) as error:
        parser.error(str(error))
    except FileExistsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"error: export interrupted; nothing was written under {base}.", file=sys.stderr)
        return 1
    print(f"Exported version {path.name} to {path} (signatures: {', '.join(signatures.SIGNATURES)}; "
          f"at most {limits.max_batch} images and {limits.max_request_pixels} pixels per request, "
          f"{limits.max_pixels} pixels per image; colour brought to each photo's size by {args.upsample})")
    print(f"Serve it: python -m serving.devserver --model_name {base.name} --model_base_path {base.resolve()} "
          "--rest_api_port 8501")
    return 0


if __name__ == "__main__":
    sys.exit(main())
