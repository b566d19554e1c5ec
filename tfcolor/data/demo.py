"""The embedded default dataset: real colour photos that ship inside scikit-image's wheel.

Six photos (astronaut, chelsea, coffee, rocket, motorcycle_left, hubble_deep_field) are scaled so
their shorter side is `PHOTO_SCALE` x the model size; the left 75% of each is cut into random
training patches and the right 25% (never trained on) into validation patches. The full-resolution
right strips are the "held-back photos" that `make demo` colorizes.

Limits: six photos are far too few to learn general colorization; a model trained on them learns
these scenes' palettes (skin, fur, sky, metal) and shows the pipeline working end to end in minutes,
no more. Train on CIFAR-10 or Places365 for real results.

`python -m tfcolor.data.demo OUT_DIR` writes the held-back photos as PNGs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfcolor.config import DataConfig
from tfcolor.data.sources import ImageArray

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg")
TRAIN_FRACTION = 0.75
PHOTO_SCALE = 6
# Patches of exactly the model size from regions PHOTO_SCALE times larger: a sixth of the shorter side.
DEFAULT_CROP_SCALE = (1.0 / PHOTO_SCALE, 1.0 / PHOTO_SCALE)
VALIDATION_PATCHES_PER_PHOTO = 8


def photo_paths() -> list[Path]:
    """Paths of the embedded photos inside the installed scikit-image package."""
    import skimage.data  # here, not at the top: only the demo dataset needs scikit-image loaded

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


def _random_patches(regions: list[np.ndarray], count: int, size: int, rng: np.random.Generator,
                    scale: tuple[float, float]) -> np.ndarray:
    """`count` squares cut from random regions, each side a random fraction in `scale` of its region's
    shorter side (at least `size`), scaled to `size` x `size`."""
    patches = np.empty((count, size, size, 3), np.uint8)
    for index in range(count):
        region = regions[rng.integers(len(regions))]
        shorter = min(region.shape[:2])
        fraction = scale[0] if scale[0] == scale[1] else rng.uniform(*scale)  # one scale: the same draws as ever
        side = int(np.clip(round(fraction * shorter), min(size, shorter), shorter))
        top = rng.integers(region.shape[0] - side + 1)
        left = rng.integers(region.shape[1] - side + 1)
        square = region[top : top + side, left : left + side]
        if side != size:
            square = tf.cast(tf.round(tf.image.resize(square, (size, size), antialias=True)), tf.uint8).numpy()
        patches[index] = square
    return patches


def patches(image_size: int, train_count: int, seed: int,
            scale: tuple[float, float] = DEFAULT_CROP_SCALE) -> tuple[np.ndarray, np.ndarray]:
    """(train patches `(train_count, s, s, 3)`, validation patches `(6 * 8, s, s, 3)`) uint8.

    Training patches are cut from the left parts, scaled so their shorter side is `PHOTO_SCALE` x the
    model size, with sides a random fraction in `scale` of that. Validation patches come only from the
    held-back strips, always at the default scale and with a fixed seed, so every run validates on
    the same patches.
    """
    train_regions, validation_regions = [], []
    for path in photo_paths():
        train_part, held_back = _split(_read_rgb(path))
        train_regions.append(_scaled(train_part, image_size))
        validation_regions.append(_scaled(held_back, image_size))
    train = _random_patches(train_regions, train_count, image_size, np.random.default_rng(seed), scale)
    validation = _random_patches(
        validation_regions, VALIDATION_PATCHES_PER_PHOTO * len(validation_regions), image_size,
        np.random.default_rng(0), DEFAULT_CROP_SCALE,
    )
    return train, validation


def open_splits(config: DataConfig, seed: int, unlisted: dict[str, str]) -> tuple[ImageArray, ImageArray]:
    """The demo's patches, cut at `--crop-scale` (default: `DEFAULT_CROP_SCALE`) from the photos' training parts."""
    train, validation = patches(config.image_size, config.demo_patches, seed, tuple(config.crop_scale or DEFAULT_CROP_SCALE))
    return ImageArray(train), ImageArray(validation)


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
