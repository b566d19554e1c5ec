"""`python -m tfcolor.colorize`: the seed's test mode, colorize a photo or a folder of photos.

    python -m tfcolor.colorize --checkpoints-path RUN --test-input IN --test-output OUT

Each input (colour or grayscale, any size) becomes `OUT/<its name>.png` (sub-folders kept) at the
input's own size. Unreadable files are skipped and counted.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tensorflow as tf

from tfcolor import data, inference, runs


def output_paths(inputs: list[Path], input_root: Path, output_dir: Path) -> dict[Path, Path]:
    """`photo.jpg` -> `OUT/photo.png`, keeping sub-folders; `photo.jpg` beside `photo.png` -> `photo_jpg.png`."""
    targets: dict[Path, Path] = {}
    stems: dict[Path, int] = {}
    for path in inputs:
        relative = path.relative_to(input_root) if path != input_root else Path(path.name)
        stem = relative.with_suffix("")
        stems[stem] = stems.get(stem, 0) + 1
    for path in inputs:
        relative = path.relative_to(input_root) if path != input_root else Path(path.name)
        stem = relative.with_suffix("")
        if stems[stem] > 1:
            stem = stem.with_name(f"{stem.name}_{relative.suffix.lstrip('.').lower()}")
        targets[path] = output_dir / stem.with_suffix(".png")
    return targets


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tfcolor.colorize",
        description="Colorize photos with a trained tfcolor run; outputs are PNGs at the inputs' sizes.",
    )
    parser.add_argument("--checkpoints-path", required=True, help="run directory written by python -m tfcolor.train")
    parser.add_argument("--test-input", required=True, help="a photo, or a folder of photos (searched recursively)")
    parser.add_argument("--test-output", required=True, help="folder for the colorized PNGs")
    parser.add_argument("--image-size", type=int, help="resolution the model predicts at (default: its training size)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    input_path = Path(args.test_input)
    if input_path.is_dir():
        inputs, root = [Path(p) for p in data.find_images(input_path)], input_path
    elif input_path.is_file():
        inputs, root = [input_path], input_path
    else:
        parser.error(f"--test-input {input_path} does not exist")
    if not inputs:
        parser.error(f"--test-input {input_path} holds no images ({', '.join(data.IMAGE_EXTENSIONS)})")
    try:
        config, model = runs.load_model(args.checkpoints_path)
    except runs.RunError as error:
        parser.error(str(error))
    model_size = args.image_size or config.data.image_size
    colorize = tf.function(lambda rgb: inference.colorize_rgb(model, rgb, model_size), reduce_retracing=True)

    skipped = 0
    for source, target in output_paths(inputs, root, Path(args.test_output)).items():
        try:
            rgb = data.decode_rgb(tf.io.read_file(str(source)))
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as error:
            print(f"skipped {source}: not a readable image ({error.message.splitlines()[0]})", file=sys.stderr)
            skipped += 1
            continue
        colorized = tf.image.convert_image_dtype(colorize(rgb), tf.uint8, saturate=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(tf.io.encode_png(colorized).numpy())
    done = len(inputs) - skipped
    print(f"Colorized {done} of {len(inputs)} images into {args.test_output}" + (f" ({skipped} skipped)" if skipped else ""))
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
