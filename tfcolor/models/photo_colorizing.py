"""Colorizing photo files: a photo or a folder of photos in, PNGs at the inputs' own sizes out.

Each input (colour or grayscale, any size) becomes `<output>/<its name>.png` (sub-folders kept). A file
that cannot be used (unreadable, not an image, a name that is not UTF-8, more pixels than the limit)
is skipped with its reason and the rest is processed. `python -m tfcolor.colorize` is its command line.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import tensorflow as tf

from tfcolor.config import DEFAULT_MAX_PIXELS
from tfcolor.data import photo_files, reading, skips
from tfcolor.models import inference, restoring, upsampling
from tfcolor.models.colorizer import Colorizer


@dataclasses.dataclass
class ColorizeSummary:
    """What `colorize_paths` did: the PNGs written and the inputs skipped, with the reason."""

    written: list[Path] = dataclasses.field(default_factory=list)
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)  # printable name -> reason


def output_paths(inputs: list[Path], input_root: Path, output_dir: Path) -> dict[Path, Path]:
    """`photo.jpg` -> `OUT/photo.png`, keeping sub-folders; `photo.jpg` beside `photo.png` -> `photo_jpg.png`."""
    relative = {path: path.relative_to(input_root) if path != input_root else Path(path.name) for path in inputs}
    stems: dict[Path, int] = {}
    for path in inputs:
        stem = relative[path].with_suffix("")
        stems[stem] = stems.get(stem, 0) + 1
    targets: dict[Path, Path] = {}
    for path in inputs:
        stem = relative[path].with_suffix("")
        if stems[stem] > 1:
            stem = stem.with_name(f"{stem.name}_{relative[path].suffix.lstrip('.').lower()}")
        targets[path] = output_dir / stem.with_suffix(".png")
    return targets


def input_photos(source: str | Path, skipped: dict[str, str]) -> tuple[list[Path], Path]:
    """(photos, root) of a photo file or a folder searched recursively; names that are not UTF-8 go
    into `skipped` instead.

    Raises:
        FileNotFoundError: `source` does not exist.
        DatasetError: a folder with no image in it.
    """
    source = Path(source)
    if source.is_file():
        if not photo_files.has_text_name(source):
            skipped[photo_files.printable(source)] = skips.UNTEXT_NAME_REASON
            return [], source.parent
        return [source], source
    if not source.is_dir():
        raise FileNotFoundError(f"--test-input {photo_files.printable(source)} does not exist")
    photos = [Path(p) for p in photo_files.find_images(source, skipped)]
    if not photos and not skipped:
        raise skips.DatasetError(f"--test-input {source} holds no images ({', '.join(photo_files.IMAGE_EXTENSIONS)})")
    return photos, source


def photo_colorizer(model: Colorizer, model_size: int,
                    upsample: str = upsampling.DEFAULT_METHOD) -> Callable[[tf.Tensor], tf.Tensor]:
    """Float RGB `(H, W, 3)` of any size -> the uint8 RGB `(H, W, 3)` colorize writes as its PNG: the one
    function behind `colorize_paths` and full-resolution evaluation, traced once for every size.

    Raises:
        ValueError: `upsample` is not a method of `upsampling.METHODS` (before anything is traced).
    """
    upsampling.check_method(upsample)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32)])
    def colorize(rgb: tf.Tensor) -> tf.Tensor:
        colorized = inference.colorize_rgb(model, rgb, model_size, upsample)
        return tf.image.convert_image_dtype(colorized, tf.uint8, saturate=True)

    return colorize


def colorize_paths(run_or_model: str | Path | Colorizer, source: str | Path, output_dir: str | Path,
                   image_size: int | None = None, report: Callable[[str], None] | None = None,
                   max_pixels: int = DEFAULT_MAX_PIXELS, upsample: str = upsampling.DEFAULT_METHOD) -> ColorizeSummary:
    """Colorize a photo or a folder of photos into `output_dir` as PNGs at their own sizes.

    Args:
        run_or_model: a run directory (or one checkpoint in it), or a loaded model (then give `image_size`).
        image_size: the resolution the model predicts at (default: the run's training size).
        report: called with one line per skipped file (default: nothing).
        max_pixels: photos with more pixels are skipped before they are decoded.
        upsample: how a*b* reach each photo's size, `bilinear` or `guided` (`tfcolor.models.upsampling`).

    Raises:
        RunError: not a trained run. FileNotFoundError, DatasetError: as `input_photos`.
        ValueError: an unknown `upsample` method.
    """
    summary = ColorizeSummary()
    photos, root = input_photos(source, summary.skipped)
    if report:
        for name, reason in summary.skipped.items():
            report(f"skipped {name}: {reason}")
    if isinstance(run_or_model, Colorizer):
        model, model_size = run_or_model, image_size
        if model_size is None:
            raise ValueError("colorize_paths with a model needs its image_size")
    else:
        config, model = restoring.load_colorizer(run_or_model)
        model_size = image_size or config.data.image_size
    colorize = photo_colorizer(model, model_size, upsample)
    for photo, target in output_paths(photos, root, Path(output_dir)).items():
        try:
            rgb = reading.read_photo(photo, max_pixels)
        except reading.PhotoSkipped as reason:
            summary.skipped[str(photo)] = str(reason)
            if report:
                report(f"skipped {photo}: {reason}")
            continue
        colorized = colorize(rgb)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(tf.io.encode_png(colorized).numpy())
        summary.written.append(target)
    return summary
