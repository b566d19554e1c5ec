"""`python -m tfcolor.evaluate --full-resolution`: what colorize writes, scored at the photos' own sizes against
scikit-image's CIEDE2000 and NumPy's PSNR and colourfulness of the very PNGs colorize writes."""
import json

import numpy as np
import pytest
import tensorflow as tf
from skimage import color as skcolor

from tests.helpers import photo_crops, save_image
from tfcolor import colorize, evaluate
from tfcolor.evaluation import full_resolution
from tfcolor.evaluation.candidates import GRAY_LABEL
from tfcolor.models import restoring

pytestmark = pytest.mark.slow

# Photos of several sizes and shapes, 1 to 3 times the tiny run's 32 px, and one over the pixel limit given.
SIZES = ((48, 72), (90, 61), (32, 32))
MAX_PIXELS = 6000
OVERSIZED = (80, 100)


def reference_scores(original: np.ndarray, colorized: np.ndarray) -> np.ndarray:
    """[PSNR, mean ΔE00, colourfulness, ΔCF] of uint8 images, from NumPy and scikit-image alone."""
    mse = np.mean((original.astype(np.float64) - colorized.astype(np.float64)) ** 2)
    delta_e = skcolor.deltaE_ciede2000(skcolor.rgb2lab(original), skcolor.rgb2lab(colorized)).mean()

    def colourfulness(image):
        red, green, blue = np.moveaxis(image.astype(np.float64), -1, 0)
        rg, yb = red - green, 0.5 * (red + green) - blue
        return np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())

    return np.array([10 * np.log10(255.0**2 / mse), delta_e, colourfulness(colorized),
                     abs(colourfulness(colorized) - colourfulness(original))])


def gray_of(original: np.ndarray) -> np.ndarray:
    """scikit-image's Lab with a*b* = 0, back to uint8 by TensorFlow's float-to-uint8 rule (x * 255.5, truncated)."""
    lab = skcolor.rgb2lab(original)
    lab[..., 1:] = 0.0
    return np.clip(skcolor.lab2rgb(lab) * 255.5, 0, 255).astype(np.uint8)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    crops = photo_crops(len(SIZES) + 1, size=100, seed=5)
    for index, (height, width) in enumerate(SIZES):
        save_image(folder / f"{index}.png", crops[index][:height, :width])
    save_image(folder / "big.png", crops[-1][: OVERSIZED[0], : OVERSIZED[1]])
    return folder


def test_full_resolution_scores_what_colorize_writes_beside_the_gray_baseline(trained_run, photos, tmp_path, capsys):
    out = tmp_path / "eval"
    assert evaluate.main(["--run", str(trained_run), "--dataset", "folder", "--dataset-path", str(photos),
                          "--output", str(out), "--full-resolution", "--upsample", "guided",
                          "--max-pixels", str(MAX_PIXELS)]) == 0
    printed = capsys.readouterr().out
    assert "Full resolution:" in printed and "mean ΔE00" in printed and "--upsample guided" in printed
    results = json.loads((out / "metrics.json").read_text())
    assert {"accuracy", "psnr", "ssim"} <= set(results["candidates"]["run"])  # the crop-level figures stay
    section = results["full_resolution"]
    assert section["images"] == len(SIZES) and section["upsample"] == "guided"
    assert section["skipped"]["oversized"] == 1
    assert section["megapixels"] == pytest.approx(sum(h * w for h, w in SIZES) / 1e6)
    assert section["candidates"]["run"]["model_size"] == 32 and section["candidates"][GRAY_LABEL]["model_size"] is None
    assert set(section["colorize_ms_per_megapixel"]) == {"run", GRAY_LABEL}
    assert "## Full resolution" in (out / "metrics.md").read_text()

    assert colorize.main(["--run", str(trained_run), "--test-input", str(photos), "--test-output", str(tmp_path / "png"),
                          "--upsample", "guided", "--max-pixels", str(MAX_PIXELS)]) == 0
    originals = [tf.io.decode_png((photos / f"{i}.png").read_bytes()).numpy() for i in range(len(SIZES))]
    written = [tf.io.decode_png((tmp_path / "png" / f"{i}.png").read_bytes()).numpy() for i in range(len(SIZES))]
    run_expected = np.mean([reference_scores(o, w) for o, w in zip(originals, written)], axis=0)
    gray_expected = np.mean([reference_scores(o, gray_of(o)) for o in originals], axis=0)
    for label, expected, tolerance in [
        # The same uint8 pixels: only float32 Lab against float64 separates the colour differences.
        ("run", run_expected, np.array([1e-6, 2e-4, 2e-4, 2e-4])),
        # The baseline rebuilt from scikit-image's Lab: a pixel here and there a level apart.
        (GRAY_LABEL, gray_expected, np.array([0.02, 0.01, 0.05, 0.05])),
    ]:
        scores = section["candidates"][label]
        got = [scores[name] for name in full_resolution.SCORES]
        assert np.all(np.abs(np.subtract(got, expected)) <= tolerance), (label, got, expected)
    assert section["candidates"][GRAY_LABEL]["colorfulness"] < 0.5
    assert section["ground_truth_colorfulness"] > 5

    # The function the quality benchmark calls gives the evaluation's numbers.
    _, model = restoring.load_colorizer(trained_run)
    paths = [photos / f"{i}.png" for i in range(len(SIZES))]
    direct = full_resolution.score_photos(model, paths, 32, "guided")
    for name in full_resolution.SCORES:
        assert direct["candidates"]["model"][name] == pytest.approx(section["candidates"]["run"][name], rel=1e-6)
        assert direct["candidates"][GRAY_LABEL][name] == pytest.approx(section["candidates"][GRAY_LABEL][name], rel=1e-6)


def test_cifar_photos_at_full_resolution_are_the_images_themselves(trained_run, cifar_dir, tmp_path):
    out = tmp_path / "eval"
    assert evaluate.main(["--run", str(trained_run), "--dataset", "cifar10", "--dataset-path", str(cifar_dir),
                          "--output", str(out), "--full-resolution"]) == 0
    results = json.loads((out / "metrics.json").read_text())
    section = results["full_resolution"]
    assert section["images"] == 4 and section["megapixels"] == pytest.approx(4 * 32 * 32 / 1e6)
    assert section["upsample"] == "bilinear"
    # At 32 px the crop is the photo: the two gray PSNRs differ by the PNG's uint8 rounding alone.
    assert section["candidates"][GRAY_LABEL]["psnr"] == pytest.approx(results["candidates"][GRAY_LABEL]["psnr"], abs=0.1)


def test_upsample_without_full_resolution_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main(["--upsample", "guided"])
    assert exit_info.value.code == 2 and "add --full-resolution" in capsys.readouterr().err
