"""Colorization metrics against values worked out by hand (accuracy, PSNR, SSIM, AuC, colourfulness) and CIEDE2000
against scikit-image and the published pairs of its formula's implementation notes."""
import numpy as np
import pytest
from skimage import color as skcolor

from tfcolor.models import metrics


def _lab(lightness, a, b, shape=(1, 2, 2)):
    return np.stack([np.full(shape, lightness), np.full(shape, a), np.full(shape, b)], axis=-1).astype(np.float32)


def test_pixel_accuracy_uses_seed_tolerances():
    truth = np.zeros((1, 1, 4, 3), np.float32) + [50.0, 10.0, -10.0]
    pred = truth.copy()
    pred[0, 0, 1, 0] += 2.0  # L off by 2: within t = 2
    pred[0, 0, 2, 1] += 4.4  # a off by 4.4: within 2.2 t
    pred[0, 0, 3, 2] -= 5.0  # b off by 5: outside 2.2 t = 4.4
    metric = metrics.PixelAccuracy(threshold=2)
    metric.update_state(truth, pred)
    assert float(metric.result()) == pytest.approx(0.75)
    strict = metrics.PixelAccuracy(threshold=1)
    strict.update_state(truth, pred)
    assert float(strict.result()) == pytest.approx(0.25)


def test_pixel_accuracy_rounds_before_comparing():
    metric = metrics.PixelAccuracy(threshold=0)
    metric.update_state(_lab(50.2, 0.4, 0.0), _lab(49.8, -0.4, 0.0))
    assert float(metric.result()) == 1.0


def test_psnr_of_a_known_error():
    metric = metrics.PSNR()
    metric.update_state(_lab(0, 0, 0), _lab(100, 0, 0))  # black vs white: MSE 1 -> 0 dB
    assert float(metric.result()) == pytest.approx(0.0, abs=1e-3)
    same = metrics.PSNR()
    same.update_state(_lab(50, 10, 10), _lab(50, 10, 10))
    assert float(same.result()) == pytest.approx(100.0)


def test_auc_of_known_error_distributions():
    perfect = metrics.ABErrorAUC()
    perfect.update_state(_lab(50, 0, 0), _lab(50, 0, 0))
    assert float(perfect.result()) == pytest.approx(1.0)
    # Error exactly 75 (a = 45, b = 60): within the threshold for t = 75..150, i.e. 76 of 151.
    half = metrics.ABErrorAUC()
    half.update_state(_lab(50, 0, 0), _lab(50, 45, 60))
    assert float(half.result()) == pytest.approx(76 / 151)
    # Two batches stream into one CDF: half the pixels perfect, half at error 75.
    mixed = metrics.ABErrorAUC()
    mixed.update_state(_lab(50, 0, 0), _lab(50, 0, 0))
    mixed.update_state(_lab(50, 0, 0), _lab(50, 45, 60))
    assert float(mixed.result()) == pytest.approx((1 + 76 / 151) / 2)
    beyond = metrics.ABErrorAUC()
    beyond.update_state(_lab(50, 0, 0), _lab(50, 200, 0))
    assert float(beyond.result()) == 0.0
    mixed.reset_state()
    assert float(mixed.result()) == 0.0


def test_metric_configs_round_trip():
    metric = metrics.PixelAccuracy(threshold=5, name="acc5")
    clone = metrics.PixelAccuracy.from_config(metric.get_config())
    assert clone.threshold == 5 and clone.name == "acc5"
    assert metrics.ABErrorAUC.from_config(metrics.ABErrorAUC(max_threshold=10).get_config()).max_threshold == 10


def test_colorfulness_of_flat_and_saturated_images():
    gray = np.full((1, 8, 8, 3), 0.5, np.float32)
    assert float(metrics.colorfulness(gray)[0]) == pytest.approx(0.0, abs=1e-4)
    red = np.zeros((1, 8, 8, 3), np.float32)
    red[..., 0] = 1.0
    # Flat pure red: rg = 255, yb = 127.5, no spread -> M = 0.3 * sqrt(255^2 + 127.5^2).
    assert float(metrics.colorfulness(red)[0]) == pytest.approx(0.3 * np.hypot(255, 127.5), rel=1e-5)
    halves = np.zeros((1, 8, 8, 3), np.float32)
    halves[:, :, :4, 0] = 1.0  # left half red, right half black
    # rg in {255, 0}, yb in {127.5, 0}: sigma = sqrt(127.5^2 + 63.75^2), mu = sqrt(127.5^2 + 63.75^2).
    spread = np.hypot(127.5, 63.75)
    assert float(metrics.colorfulness(halves)[0]) == pytest.approx(spread + 0.3 * spread, rel=1e-5)


def test_ssim_is_one_for_identical_images_and_lower_otherwise():
    lab = np.random.default_rng(0).uniform([20, -40, -40], [80, 40, 40], (2, 16, 16, 3)).astype(np.float32)
    same = metrics.SSIM()
    same.update_state(lab, lab)
    assert float(same.result()) == pytest.approx(1.0, abs=1e-5)
    other = metrics.SSIM()
    other.update_state(lab, lab * [1, 0, 0])
    assert float(other.result()) < 0.99


def test_colorfulness_metric_scores_the_prediction_only():
    metric = metrics.Colorfulness()
    metric.update_state(_lab(50, 60, 40), _lab(50, 0, 0))
    assert float(metric.result()) == pytest.approx(0.0, abs=0.01)


def test_colorfulness_takes_the_opponent_channels_signed_as_hasler_and_susstrunk_define_them():
    red_green = np.zeros((1, 8, 8, 3), np.float32)
    red_green[:, :, :4, 0] = 1.0  # left half red: rg = 255, yb = 127.5
    red_green[:, :, 4:, 1] = 1.0  # right half green: rg = -255, yb = 127.5
    # Signed: sigma = 255 and mu = 127.5. Absolute values (|rg| = 255 everywhere) would give 0.3 * hypot(255, 127.5).
    assert float(metrics.colorfulness(red_green)[0]) == pytest.approx(255 + 0.3 * 127.5, rel=1e-5)


def test_ciede2000_matches_scikit_image_on_random_and_awkward_pixels():
    rng = np.random.default_rng(7)
    count = 4000
    reference = np.stack([rng.uniform(0, 100, count), rng.uniform(-110, 110, count), rng.uniform(-110, 110, count)], -1)
    # Small, medium and large differences, pairs against neutral gray (no hue), and identical pairs.
    sample = reference + rng.normal(0, 1, (count, 3)) * rng.choice([0.5, 5.0, 40.0], (count, 1))
    sample[:200, 1:] = 0.0
    reference[200:400, 1:] = 0.0
    sample[400:500] = reference[400:500]
    # Hues on either side of the wrap-around at 0 / 360 degrees (a small negative and a small positive b).
    reference[500:600, 1:] = np.stack([rng.uniform(5, 60, 100), rng.uniform(-3, -0.1, 100)], -1)
    sample[500:600, 1:] = np.stack([rng.uniform(5, 60, 100), rng.uniform(0.1, 3, 100)], -1)
    expected = skcolor.deltaE_ciede2000(reference, sample)
    ours = metrics.ciede2000(reference.astype(np.float32), sample.astype(np.float32)).numpy()
    # float32 against float64: inputs rounded to ~1e-5 relative; differences up to ~100.
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=2e-4)
    assert ours[400:500].max() == 0.0


def test_ciede2000_reproduces_sharmas_published_pairs():
    # Pairs 1, 7, 17 and 25 of Sharma, Wu and Dalal (2005), table 1, with their published ΔE00.
    reference = np.array([[50, 2.6772, -79.7751], [50, 0, 0], [50, 2.5, 0], [60.2574, -34.0099, 36.2677]])
    sample = np.array([[50, 0, -82.7485], [50, -1, 2], [73, 25, -18], [60.4626, -34.1751, 39.4387]])
    np.testing.assert_allclose(metrics.ciede2000(reference, sample).numpy(), [2.0425, 2.3669, 27.1492, 1.2644], atol=1e-4)
