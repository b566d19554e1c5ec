"""`python -m export --run RUN --output MODELS/NAME [--version N]`: export a run for TF-Serving."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from export import signatures, versions, warmup
from tfcolor import runs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m export",
        description="Export a trained tfcolor run as a SavedModel version that TF-Serving can load.",
    )
    parser.add_argument("--run", required=True, help="run directory (--checkpoints-path of training) or one checkpoint in it")
    parser.add_argument("--output", required=True, help="model base path, e.g. models/tfcolor; versions go in numbered sub-folders")
    parser.add_argument("--version", type=int, help="version number (default: the next one)")
    parser.add_argument("--image-size", type=int, help="resolution the model predicts at (default: its training size)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version is not None and args.version <= 0:
        parser.error("--version must be a positive integer")
    try:
        config, model = runs.load_model(args.run)
    except runs.RunError as error:
        parser.error(str(error))
    base = Path(args.output)
    versions.remove_stale_temporaries(base)
    version = args.version or versions.next_version(base)
    model_size = args.image_size or config.data.image_size
    archive = signatures.build_archive(model, model_size)

    def build(folder: Path) -> None:
        archive.write_out(str(folder), verbose=False)
        warmup.write_warmup(folder, base.name, model_size)

    try:
        path = versions.write_version(base, version, build)
    except FileExistsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"error: export interrupted; nothing was written under {base}.", file=sys.stderr)
        return 1
    print(f"Exported version {version} to {path} (signatures: {', '.join(signatures.SIGNATURES)})")
    print(f"Serve it: python -m serving.devserver --model_name {base.name} --model_base_path {base.resolve()} --rest_api_port 8501")
    return 0


if __name__ == "__main__":
    sys.exit(main())
