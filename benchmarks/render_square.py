"""What the model should see of a photo: its own aspect (shorter side at the model's size) or the model's square.

    python -m benchmarks.render_square --run RUN --photos FOLDER [--record]

Scores a trained run at full resolution (`tfcolor.evaluation.full_resolution.photo_differences`: PSNR
on RGB and mean CIEDE2000 of the uint8 output against the original) on every photo under `--photos`
(e.g. a quality benchmark's `split-sources/held-out`), with the colour predicted:

- `aspect`: on the photo scaled so its shorter side is the model's size (what colorize did before);
- `square, bilinear` and `square, area`: on the photo squashed to the model's square, shrunk by
  antialiased bilinear or area resizing (`tfcolor.models.inference.model_input` uses area);

each brought back by bilinear and by guided upsampling, beside gray. Inference is deterministic, so
the figures depend only on the run and the photos.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)

# isort: split
import numpy as np
import tensorflow as tf

from benchmarks.machine import cpu_description, record
from tfcolor.data import color, photo_files
from tfcolor.data.images import resize_shorter_side
from tfcolor.evaluation.full_resolution import photo_differences
from tfcolor.models import inference, restoring, upsampling

SECTION = "`benchmarks/render_square.py` — the photo's aspect or the model's square"
_UINT8 = tf.TensorSpec([None, None, 3], tf.uint8)


def variants(model, size: int) -> dict:
    """name -> traced uint8 photo -> uint8 colorization."""
    def shrink(method: str):
        return lambda rgb: tf.image.resize(rgb, (size, size), method=method, antialias=method == "bilinear")

    def colorize(to_model, upsample: str):
        def run(photo):
            rgb = color.to_float_rgb(photo)
            ab_small = inference.colors_at_model_size(model, to_model(rgb)[tf.newaxis])[0]
            out = inference.join_colors(inference.lightness_of(rgb), ab_small, upsample)
            return tf.image.convert_image_dtype(out, tf.uint8, saturate=True)
        return tf.function(run, input_signature=[_UINT8])

    found = {}
    for name, to_model in (("aspect", lambda rgb: resize_shorter_side(rgb, size)), ("square, bilinear", shrink("bilinear")),
                           ("square, area", shrink("area"))):
        for upsample in upsampling.METHODS:
            found[f"{name}; {upsample}"] = colorize(to_model, upsample)
    found["gray"] = tf.function(lambda photo: tf.image.convert_image_dtype(color.lab_to_rgb(tf.concat(
        [inference.lightness_of(photo), tf.zeros(tf.concat([tf.shape(photo)[:2], [2]], 0))], -1)), tf.uint8,
        saturate=True), input_signature=[_UINT8])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a trained run directory")
    parser.add_argument("--photos", required=True, help="folder of held-out photos (searched recursively)")
    parser.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    config, model = restoring.load_colorizer(args.run)
    paths = sorted(photo_files.find_images(args.photos, {}))
    functions = variants(model, config.data.image_size)
    scores = {name: [] for name in functions}
    megapixels = []
    for path in paths:
        photo = tf.io.decode_image(Path(path).read_bytes(), channels=3, expand_animations=False)
        megapixels.append(photo.shape[0] * photo.shape[1] / 1e6)
        for name, function in functions.items():
            scores[name].append(photo_differences(photo, function(photo)).numpy()[:2])
    lines = ["| model input; upsampling | PSNR dB | mean ΔE00 |", "|---|---|---|"]
    lines += [f"| {name} | {np.mean(values, axis=0)[0]:.3f} | {np.mean(values, axis=0)[1]:.3f} |"
              for name, values in scores.items()]
    lines += ["", f"{len(paths)} photos under `{args.photos}` ({np.median(megapixels):.2f} Mpx median, "
              f"{max(megapixels):.2f} largest); run `{args.run}` ({config.data.image_size} px); {cpu_description()}."]
    table = "\n".join(lines)
    print(table)
    if args.record:
        print(f"Appended to {record(table, section=SECTION)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
