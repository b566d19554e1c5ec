"""The epoch line that warns when the training photos score far above the validation photos."""
from __future__ import annotations

from tfcolor.training.callbacks import TransferGap


def test_a_gap_over_three_db_is_reported_and_a_small_one_or_no_validation_is_not():
    lines: list[str] = []
    gap = TransferGap(report=lines.append)
    gap.on_epoch_end(0, {"psnr": 24.0, "val_psnr": 22.5})
    gap.on_epoch_end(1, {"psnr": 24.0})
    assert lines == []
    gap.on_epoch_end(2, {"psnr": 25.0, "val_psnr": 21.0})
    assert len(lines) == 1 and lines[0].startswith("Epoch 3: the training photos score 4.0 dB PSNR above")
    assert "--validation-path" in lines[0]
