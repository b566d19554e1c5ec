"""Every model family through one harness (`tests.helpers.run_model_family_test`): build, one train step,
checkpoint round trip, export."""
from __future__ import annotations

import pytest

from tests.helpers import run_model_family_test
from tfcolor import config

TINY = {"base_filters": 8, "depth": 2, "batch_size": 4, "demo_patches": 8}


@pytest.mark.slow
@pytest.mark.parametrize("family", [
    {"model": "gan"},
    {"model": "unet"},
    {"model": "gan", "ema_decay": 0.9},
    {"model": "unet", "color_space": "rgb"},
    {"model": "gan", "ema_decay": 0.9, "confidence": True, "flip_average": True},
    {"model": "unet", "confidence": True},
], ids=["gan", "unet", "gan-moving-average", "unet-rgb", "gan-confidence-flip", "unet-confidence"])
def test_the_model_family_passes_the_harness(family, tmp_path):
    run_model_family_test(config.resolve({**TINY, "precision": "float32", **family}), tmp_path)
