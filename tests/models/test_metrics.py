"""Colorization metrics against values worked out by hand: accuracy, PSNR, SSIM, AuC, colourfulness."""
import numpy as np
import pytest

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
