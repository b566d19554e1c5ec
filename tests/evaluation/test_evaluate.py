"""`python -m tfcolor.evaluate` on tiny fixtures: known gray-baseline values, output files, determinism."""
import json

import numpy as np
import pytest
from skimage import color as skcolor

from tests.helpers import TINY_TRAIN_ARGS, photo_crops, save_image, write_cifar_batch
from tfcolor import evaluate, train

pytestmark = pytest.mark.slow


def gray_baseline_expectations(images: np.ndarray, threshold: float = 2.0) -> tuple[float, float]:
    """Accuracy and AuC the gray baseline must score, from scikit-image's Lab (L exact, ab = 0)."""
    lab = skcolor.rgb2lab(images)
    ab = lab[..., 1:]
    accuracy = np.mean(np.all(np.abs(np.round(ab)) <= 2.2 * threshold, axis=-1))
    error = np.linalg.norm(ab, axis=-1).ravel()
    auc = np.mean([np.mean(error <= t) for t in range(151)])
    return float(accuracy), float(auc)


def test_gray_baseline_scores_what_it_must_and_outputs_parse(cifar_dir, trained_run, tmp_path, capsys):
    out = tmp_path / "eval"
    code = evaluate.main(["--run", str(trained_run), "--dataset", "cifar10", "--dataset-path", str(cifar_dir),
                          "--output", str(out), "--batch-size", "3"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "gray (ab = 0)" in printed and "accuracy@2" in printed and "4 images" in printed
    results = json.loads((out / "metrics.json").read_text())
    gray = results["candidates"]["gray (ab = 0)"]
    test_images = photo_crops(4, seed=99)
    accuracy, auc = gray_baseline_expectations(test_images)
    assert gray["accuracy"] == pytest.approx(accuracy, abs=0.005)
    assert gray["auc"] == pytest.approx(auc, abs=0.002)
    assert gray["colorfulness"] == pytest.approx(0.0, abs=0.05)
    assert results["ground_truth_colorfulness"] > 5
    run = results["candidates"]["run"]
    assert run["kind"] == "gan" and set(run["accuracy_by_threshold"]) >= {"0", "2", "10", "20"}
    assert 0 <= run["accuracy"] <= 1 and run["psnr"] > 0 and -1 <= run["ssim"] <= 1
    markdown = (out / "metrics.md").read_text()
    assert markdown.startswith("| run | kind | accuracy@2 |") and "| gray (ab = 0) | baseline |" in markdown
    for name in ("accuracy_vs_threshold.png", "examples_run.png", "examples_gray_ab_0.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_inputs_and_weights_give_the_same_numbers(trained_run, tmp_path):
    for name in ("a", "b"):
        assert evaluate.main(["--run", str(trained_run), "--output", str(tmp_path / name), "--max-images", "16"]) == 0
    first = json.loads((tmp_path / "a" / "metrics.json").read_text())
    second = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert first["candidates"] == second["candidates"] and first["images"] == 16


def test_small_images_and_rgb_runs_work(tmp_path):
    run = tmp_path / "rgb"
    assert train.main([*TINY_TRAIN_ARGS, "--checkpoints-path", str(run), "--max-steps", "1", "--color-space", "rgb",
                       "--sample", "0"]) == 0
    photos = tmp_path / "small"
    colourful = np.random.default_rng(0).integers(0, 256, (3, 20, 20, 3), dtype=np.uint8)
    for index, image in enumerate(colourful):
        save_image(photos / f"{index}.png", image)
    assert evaluate.main(["--run", str(run), "--dataset", "folder", "--dataset-path", str(photos),
                          "--output", str(tmp_path / "out")]) == 0
    results = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert results["images"] == 3 and results["dataset"]["image_size"] == 32


def test_bad_inputs_give_clear_messages(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main(["--run", str(tmp_path / "missing-run")])
    assert exit_info.value.code == 2 and "is not a tfcolor run" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert evaluate.main(["--dataset", "folder", "--dataset-path", str(tmp_path / "empty"),
                          "--output", str(tmp_path / "o")]) == 1
    assert "no images to evaluate on" in capsys.readouterr().err
    gray_only = tmp_path / "gray_only"
    save_image(gray_only / "g.png", np.full((32, 32), 128, np.uint8))
    assert evaluate.main(["--dataset", "folder", "--dataset-path", str(gray_only), "--output", str(tmp_path / "o2")]) == 1
    assert "no usable images" in capsys.readouterr().err
    cifar = tmp_path / "cifar"
    cifar.mkdir()
    write_cifar_batch(cifar / "test_batch", photo_crops(2))
    assert evaluate.main(["--dataset", "cifar10", "--dataset-path", str(cifar), "--output", str(tmp_path / "o3")]) == 1
    assert "data_batch_1" in capsys.readouterr().err
