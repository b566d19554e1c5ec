"""Quality on real photos the models never saw: GAN and U-Net learning curves against keeping it gray.

    python -m benchmarks.quality [--dataset-path ../shared/photos] [--steps 3000] [--eval-every 500]
                                 [--set crop_scale=0.25,1 --set ema_decay=0.999 ...] [--record]

Every 10th photo of the folder (sorted by name) is held back and never trained on; the GAN and the U-Net
train on the rest with the same settings, `--dataset folder` at 64 px with the demo's U-Net (`--set`
overrides any config field, as the training flags do), in turns of `--eval-every` batches. After each
turn both, and the gray baseline (ab = 0), are scored on the held-back photos with `tfcolor.evaluate` at
the training size: accuracy@2, PSNR, AuC, colourfulness, beside each model's training wall-clock. Writes
`curves.json` and `curves.png` under `--output`; `--record` also appends the table to
benchmarks/RESULTS.md and draws the curves into benchmarks/quality_curves.png.
"""
from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)

# isort: split
from matplotlib.figure import Figure

from benchmarks.machine import cpu_description, entry, record
from tfcolor import config, evaluate, train
from tfcolor.data import photo_files
from tfcolor.evaluation import scoring
from tfcolor.training import runtime

HERE = Path(__file__).resolve().parent

DEFAULT_PHOTOS = HERE.parent.parent / "shared" / "photos"
HOLD_BACK_EVERY = 10
# On top of the folder preset (crops at every scale, moving average): the demo's half-width U-Net, so a
# 2-core CPU trains both models in well under an hour.
DEFAULT_SETTINGS = ("network=demo",)
METRICS = (("accuracy", "accuracy@2 (%)", 100.0), ("psnr", "PSNR (dB)", 1.0), ("auc", "AuC", 1.0),
           ("colorfulness", "colourfulness", 1.0))
GRAY = scoring.GRAY_LABEL
RECORDED_PLOT = "quality_curves.png"
SECTION = "`benchmarks/quality.py` — colour on real photos the models never saw"


def split_photos(photos: Path, output: Path) -> tuple[Path, Path]:
    """`output/split/train` and `output/split/val`: links to the photos, every 10th one held back."""
    files = photo_files.find_images(photos)
    if len(files) < 2 * HOLD_BACK_EVERY:
        raise SystemExit(f"{photos}: {len(files)} photos; the benchmark needs at least {2 * HOLD_BACK_EVERY}")
    root = output / "split"
    for index, path in enumerate(files):
        folder = root / ("val" if index % HOLD_BACK_EVERY == 0 else "train")
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / f"{index:04d}-{Path(path).name}"
        if not link.exists():
            link.symlink_to(Path(path).resolve())
    return root, root / "val"


def settings(args: argparse.Namespace, split: Path, model: str) -> config.RunConfig:
    overrides = {"dataset": "folder", "dataset_path": str(split), "image_size": args.image_size,
                 "batch_size": args.batch_size, "model": model, "validate": False, "cache": True,
                 "save_interval": 0, "sample_interval": 0, "log_interval": 100, "epochs": 100_000}
    for item in (*DEFAULT_SETTINGS, *args.set):
        key, _, value = item.partition("=")
        overrides[key] = value
    return config.resolve(overrides)


def plot(curves: dict, path: Path) -> None:
    figure = Figure(figsize=(12, 3.2), dpi=100)
    for index, (key, title, factor) in enumerate(METRICS):
        axes = figure.add_subplot(1, len(METRICS), index + 1)
        for label in ("gan", "unet"):
            points = [(p["batches"], p[label][key] * factor) for p in curves["points"]]
            axes.plot(*zip(*points), marker="o", label=label)
        gray = curves["points"][-1][GRAY][key] * factor
        axes.axhline(gray, color="gray", linestyle="--", label="gray")
        if key == "colorfulness":
            axes.axhline(curves["ground_truth_colorfulness"], color="black", linestyle=":", label="ground truth")
        axes.set_title(title)
        axes.set_xlabel("batches")
        axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


def markdown(curves: dict) -> str:
    lines = [f"{curves['train_photos']} training photos, {curves['held_back_photos']} held back (every "
             f"{HOLD_BACK_EVERY}th); {curves['image_size']} px, batch {curves['batch_size']}, precision "
             f"{curves['precision']}; settings: `{curves['overrides'] or 'defaults'}`.", "",
             "| batches | model | train wall-clock (min) | accuracy@2 | PSNR (dB) | AuC | colourfulness |",
             "|---|---|---|---|---|---|---|"]
    for point in curves["points"]:
        for label in ("gan", "unet"):
            row = point[label]
            lines.append(f"| {point['batches']} | {label} | {point['minutes'][label]:.1f} | {100 * row['accuracy']:.2f}% | "
                         f"{row['psnr']:.2f} | {row['auc']:.4f} | {row['colorfulness']:.1f} |")
    gray = curves["points"][-1][GRAY]
    lines.append(f"| – | gray (ab = 0) | – | {100 * gray['accuracy']:.2f}% | {gray['psnr']:.2f} | {gray['auc']:.4f} | 0.0 |")
    lines.append(f"| – | ground truth | – | | | | {curves['ground_truth_colorfulness']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset-path", type=Path, default=DEFAULT_PHOTOS, help="a folder of your own photos")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3000, help="batches each model trains in all")
    parser.add_argument("--eval-every", type=int, default=500, help="batches between evaluations")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a training setting, as the flag of the same name would set it")
    parser.add_argument("--output", type=Path, default=Path("runs/quality"), help="runs, curves.json and curves.png")
    parser.add_argument("--record", action="store_true",
                        help=f"append the table to benchmarks/RESULTS.md, the plot to benchmarks/{RECORDED_PLOT}")
    args = parser.parse_args()
    split, held_back = split_photos(args.dataset_path, args.output)
    configs = {label: settings(args, split, label) for label in ("gan", "unet")}
    minutes = {label: 0.0 for label in configs}
    curves = {"date": f"{datetime.date.today()}", "device": cpu_description(), "image_size": args.image_size,
              "batch_size": args.batch_size, "overrides": " ".join((*DEFAULT_SETTINGS, *args.set)),
              "precision": runtime.resolve_precision(configs["gan"].train.precision),
              "train_photos": len(photo_files.find_images(split / "train")),
              "held_back_photos": len(photo_files.find_images(held_back)),
              "points": []}
    for batches in range(args.eval_every, args.steps + 1, args.eval_every):
        for label, run_config in configs.items():
            start = time.perf_counter()
            train.train(config.resolve({"max_steps": batches}, base=run_config), args.output / label, report=lambda _: None)
            minutes[label] += (time.perf_counter() - start) / 60
        results = evaluate.evaluate([args.output / "gan", args.output / "unet"], dataset="folder",
                                    dataset_path=str(held_back), image_size=args.image_size)
        point = {"batches": batches, "minutes": dict(minutes),
                 **{label: results["candidates"][label] for label in ("gan", "unet", GRAY)}}
        curves["ground_truth_colorfulness"] = results["ground_truth_colorfulness"]
        curves["points"].append(point)
        print(" | ".join(f"{label} acc {100 * point[label]['accuracy']:.1f}% psnr {point[label]['psnr']:.2f} "
                         f"auc {point[label]['auc']:.4f} colour {point[label]['colorfulness']:.1f}"
                         for label in ("gan", "unet", GRAY)) + f" | batches {batches} | min {minutes}", flush=True)
        (args.output / "curves.json").write_text(json.dumps(curves, indent=2), encoding="utf-8")
        plot(curves, args.output / "curves.png")
    table = markdown(curves)
    print(entry(table))
    if args.record:
        plot(curves, HERE / RECORDED_PLOT)
        print(f"Appended to {record(table, section=SECTION, after=f'![learning curves]({RECORDED_PLOT})')}")
    print(f"Curves: {args.output / 'curves.json'}, {args.output / 'curves.png'}")


if __name__ == "__main__":
    main()
