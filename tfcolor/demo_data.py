"""The embedded default dataset: real colour photos that ship inside scikit-image's wheel.

Six photos (astronaut, chelsea, coffee, rocket, motorcycle_left, hubble_deep_field) are scaled so
their shorter side is `PHOTO_SCALE` x the model size; the left 75% of each is cut into random
training patches and the right 25% (never trained on) into validation patches. The full-resolution
right strips are the "held-back photos" that `make demo` colorizes.

Limits: six photos are far too few to learn general colorization; a model trained on them learns
these scenes' palettes (skin, fur, sky, metal) and shows the pipeline working end to end in minutes,
no more. Train on CIFAR-10 or Places365 for real results.

`python -m tfcolor.demo_data OUT_DIR` writes the held-back photos as PNGs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import skimage.data
import tensorflow as tf

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg")
TRAIN_FRACTION = 0.75
PHOTO_SCALE = 6
VALIDATION_PATCHES_PER_PHOTO = 8


def photo_paths() -> list[Path]:
    """Paths of the embedded photos inside the installed scikit-image package."""
    root = Path(skimage.data.__file__).parent
    paths = [root / name for name in PHOTOS]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"scikit-image's bundled photos are missing: {missing}; reinstall scikit-image.")
    return paths


def _read_rgb(path: Path) -> np.ndarray:
    return tf.io.decode_image(tf.io.read_file(str(path)), channels=3, expand_animations=False).numpy()


def _split(photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cut = int(photo.shape[1] * TRAIN_FRACTION)
    return photo[:, :cut], photo[:, cut:]


def _scaled(photo: np.ndarray, image_size: int) -> np.ndarray:
    scale = min(1.0, PHOTO_SCALE * image_size / min(photo.shape[:2]))
    size = [max(image_size, round(side * scale)) for side in photo.shape[:2]]
    return tf.cast(tf.round(tf.image.resize(photo, size, antialias=True)), tf.uint8).numpy()


def _random_patches(regions: list[np.ndarray], count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    patches = np.empty((count, size, size, 3), np.uint8)
    for index in range(count):
        region = regions[rng.integers(len(regions))]
        top = rng.integers(region.shape[0] - size + 1)
        left = rng.integers(region.shape[1] - size + 1)
        patches[index] = region[top : top + size, left : left + size]
    return patches


def patches(image_size: int, train_count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train patches `(train_count, s, s, 3)`, validation patches `(6 * 8, s, s, 3)`) uint8.

    Validation patches come only from the held-back strips, with a fixed seed so every run
    validates on the same patches.
    """
    train_regions, validation_regions = [], []
    for path in photo_paths():
        train_part, held_back = _split(_read_rgb(path))
        train_regions.append(_scaled(train_part, image_size))
        validation_regions.append(_scaled(held_back, image_size))
    train = _random_patches(train_regions, train_count, image_size, np.random.default_rng(seed))
    validation = _random_patches(
        validation_regions, VALIDATION_PATCHES_PER_PHOTO * len(validation_regions), image_size,
        np.random.default_rng(0),
    )
    return train, validation


def write_held_back(output_dir: str | Path) -> list[Path]:
    """Write the full-resolution held-back strip of every photo as `<name>.png`; returns the paths."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in photo_paths():
        _, held_back = _split(_read_rgb(path))
        target = output_dir / f"{path.stem}.png"
        target.write_bytes(tf.io.encode_png(held_back).numpy())
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the embedded demo dataset's held-back photos as PNGs.")
    parser.add_argument("output_dir", help="folder to write the held-back photos into")
    args = parser.parse_args(argv)
    written = write_held_back(args.output_dir)
    print(f"Wrote {len(written)} held-back photos to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
