"""Scoring runs against each other and against "keep it gray": the paper's comparison as a library.

For every run and for the trivial "keep it gray" baseline (ab = 0): the original code's pixel accuracy at
`acc_thresh` and over a sweep of thresholds, PSNR and SSIM on RGB, the AuC of the per-pixel ab
error CDF (0..150), and the colourfulness of the outputs beside the ground truth's. Inference is
deterministic and the images come in a fixed order, so the same inputs and weights give the same
numbers on every run. With `full_resolution`, the same photos are also scored at their own sizes as
`tfcolor.colorize` writes them (`tfcolor.evaluation.full_resolution`), in a section of their own.
`python -m tfcolor.evaluate` is the command line over `evaluate`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import tensorflow as tf

from tfcolor.config import DEFAULT_MAX_PIXELS, PRESETS
from tfcolor.config.run_layout import held_out_data
from tfcolor.data import color, datasets, skips
from tfcolor.data.pipelines import evaluation_set
from tfcolor.evaluation import report
from tfcolor.evaluation.candidates import GRAY_LABEL, Candidate, gray_lab, load_candidates
from tfcolor.evaluation.full_resolution import score_source
from tfcolor.models import metrics, upsampling

__all__ = ["ACCURACY_THRESHOLDS", "GRAY_LABEL", "Candidate", "evaluate", "load_candidates", "score"]

ACCURACY_THRESHOLDS = tuple(range(21))


def _metrics(acc_thresh: float) -> dict[str, keras.metrics.Metric]:
    thresholds = sorted(set(ACCURACY_THRESHOLDS) | {acc_thresh})
    found = {f"accuracy@{t:g}": metrics.PixelAccuracy(t) for t in thresholds}
    found.update(psnr=metrics.PSNR(), ssim=metrics.SSIM(), auc=metrics.ABErrorAUC(), colorfulness=metrics.Colorfulness())
    return found


def score(candidates: list[Candidate], images: tf.data.Dataset, acc_thresh: float = 2.0,
          examples: int = 8) -> tuple[dict, dict[str, list]]:
    """Stream `images` (float RGB batches) through every candidate.

    Returns (results, example columns): results as written to metrics.json; example columns map
    "gray", "original" and each label to the first `examples` images, for the grids.
    """
    tracked = {c.label: _metrics(acc_thresh) for c in candidates}
    truth_colorfulness = keras.metrics.Mean()
    shown: dict[str, list] = {"gray": [], "original": [], **{c.label: [] for c in candidates}}
    count = 0
    for rgb in images:
        lab_true = color.rgb_to_lab(rgb)
        truth_colorfulness.update_state(metrics.colorfulness(rgb))
        take = max(0, examples - count)
        if take:
            shown["original"].append(rgb[:take])
            shown["gray"].append(color.lab_to_rgb(gray_lab(rgb[:take])))
        for candidate in candidates:
            lab_pred = candidate.predict_lab(rgb)
            for metric in tracked[candidate.label].values():
                metric.update_state(lab_true, lab_pred)
            if take:
                shown[candidate.label].append(color.lab_to_rgb(lab_pred[:take]))
        count += int(tf.shape(rgb)[0])
    if not count:
        raise skips.DatasetError("no usable images to evaluate on (all were corrupt or grayscale).")
    results = {"images": count, "acc_thresh": acc_thresh,
               "ground_truth_colorfulness": float(truth_colorfulness.result()), "candidates": {}}
    for candidate in candidates:
        values = {name: float(metric.result()) for name, metric in tracked[candidate.label].items()}
        results["candidates"][candidate.label] = {
            "kind": candidate.kind,
            "accuracy": values[f"accuracy@{acc_thresh:g}"],
            "accuracy_by_threshold": {k.split("@")[1]: v for k, v in values.items() if k.startswith("accuracy@")},
            **{k: values[k] for k in ("psnr", "ssim", "auc", "colorfulness")},
        }
    return results, {name: tf.concat(parts, axis=0) for name, parts in shown.items() if parts}


def evaluate(run_dirs: list[str | Path], output: str | Path | None = None, dataset: str | None = None,
             dataset_path: str | None = None, image_size: int | None = None, acc_thresh: float = 2.0,
             max_images: int | None = None, batch_size: int = 32, examples: int = 8,
             max_pixels: int = DEFAULT_MAX_PIXELS, full_resolution: bool = False,
             upsample: str = upsampling.DEFAULT_METHOD) -> dict:
    """Score runs and the gray baseline on held-out photos; write the report under `output` when given.

    The photos are the first run's held-out set unless `dataset`/`dataset_path` say otherwise, at the
    first run's training size unless `image_size` does. With `full_resolution`, the same photos are
    also colorized at their own sizes as `tfcolor.colorize` would (each run predicting at `image_size`,
    default its own training size, its colour brought up by `upsample`) and scored against the
    originals: the `full_resolution` section. Returns the results of metrics.json.

    Raises:
        RunError: a path is not a trained run. DatasetError: no usable image to evaluate on.
        ValueError: an unknown `upsample`.
    """
    upsampling.check_method(upsample)
    candidates, configs = load_candidates([str(r) for r in run_dirs])
    first = configs[0].data if configs else PRESETS[dataset or "demo"].data
    data_config = dataclasses.replace(held_out_data(first, dataset, dataset_path, image_size), max_pixels=max_pixels)
    images, stats = evaluation_set(data_config, batch_size, max_images)
    results, shown = score(candidates, images, acc_thresh, examples)
    skipped = {**stats.as_dict(), "names": dict(stats.unlisted)}
    results.update(dataset=dataclasses.asdict(data_config), skipped=skipped, runs=[str(r) for r in run_dirs])
    if full_resolution:
        source = datasets.evaluation_split(data_config, {})
        results["full_resolution"] = score_source(candidates, source, image_size, upsample, max_pixels, max_images)
    if output is not None:
        results["written"] = [str(p) for p in report.write_all(results, shown, Path(output))]
    return results
