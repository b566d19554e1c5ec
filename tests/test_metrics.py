import numpy as np
import pytest

from tfcolor import metrics


def _lab(l, a, b, shape=(1, 2, 2)):
    return np.stack([np.full(shape, l), np.full(shape, a), np.full(shape, b)], axis=-1).astype(np.float32)


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
