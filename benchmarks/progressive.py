"""Progressive resolution against training at the large size from scratch, for the same minutes.

    python -m benchmarks.progressive [--small 64] [--large 128] [--minutes 12] [--turn 100] [--record]

Both arms are tfcolor's GAN with the quality benchmark's settings (`benchmarks.quality`: the folder
preset, the demo's U-Net) on the same photos (every 10th of ../shared/photos held back):

- `scratch`: trains at `--large` px for `--minutes`;
- `progressive`: trains at `--small` px for half the minutes, then a new run at `--large` px starts from
  it (`--init-from`: its generator, moving average and confidence network, fresh optimizers) for the
  other half.

Each arm trains in turns of `--turn` batches until its minutes are spent; after each turn of the large
size, its run is scored on the held-back photos: crops at `--large` px (PSNR, AuC) and every photo at
its own size as `tfcolor.colorize` writes it (PSNR, mean CIEDE2000), beside gray. The curves (score
against training minutes, start-up and tracing included) go to `--output`/curves.json and, with
`--record`, to benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)

# isort: split
from benchmarks import quality
from benchmarks.machine import cpu_description, record
from tfcolor import config, evaluate, train

SECTION = "`benchmarks/progressive.py` — progressive resolution against the large size from scratch"


def run_config(args: argparse.Namespace, split: Path, size: int, init_from: Path | None = None) -> config.RunConfig:
    namespace = argparse.Namespace(image_size=size, batch_size=args.batch_size, set=list(args.set))
    base = quality.settings(namespace, split, "gan")
    return config.resolve({"init_from": str(init_from)} if init_from else {}, base=base)


def score(run: Path, held: Path, size: int) -> dict:
    results = evaluate.evaluate([run], dataset="folder", dataset_path=str(held), image_size=size, full_resolution=True)
    crops, full = results["candidates"], results["full_resolution"]["candidates"]
    label = next(name for name in crops if name != quality.GRAY)
    return {who: {"psnr": crops[key]["psnr"], "auc": crops[key]["auc"], "full_psnr": full[key]["psnr"],
                  "full_ciede2000": full[key]["ciede2000"]} for who, key in (("model", label), ("gray", quality.GRAY))}


def train_for_minutes(base: config.RunConfig, run: Path, minutes: float, turn: int, held: Path | None,
                      size: int, spent: float, curve: list) -> float:
    """Train `run` in turns of `turn` batches until `minutes` more are spent; scored after each turn when `held`."""
    batches, start_spent = 0, spent
    while spent - start_spent < minutes:
        batches += turn
        began = time.perf_counter()
        train.train(config.resolve({"max_steps": batches}, base=base), run, report=lambda _: None)
        spent += (time.perf_counter() - began) / 60
        if held is not None:
            curve.append({"minutes": spent, "batches": batches, "size": size, **score(run, held, size)})
            print(json.dumps(curve[-1]), flush=True)
    return spent


def markdown(curves: dict) -> str:
    lines = [f"Every 10th photo of ../shared/photos held back ({curves['held']} photos), {curves['train']} trained on; "
             f"GAN with `{' '.join((*quality.DEFAULT_SETTINGS, *curves['set']))}`, batch {curves['batch_size']}; "
             f"{curves['minutes']:g} minutes per arm. Scores of the {curves['large']} px run after each turn: crops at "
             f"{curves['large']} px, and the photos at their own sizes (full).", "",
             "| arm | minutes | batches at this size | crop PSNR | crop AuC | full PSNR | full ΔE00 |",
             "|---|---|---|---|---|---|---|"]
    for arm in ("scratch", "progressive"):
        for point in curves[arm]:
            model = point["model"]
            lines.append(f"| {arm} | {point['minutes']:.1f} | {point['batches']} | {model['psnr']:.2f} | "
                         f"{model['auc']:.4f} | {model['full_psnr']:.3f} | {model['full_ciede2000']:.3f} |")
    gray = curves["scratch"][-1]["gray"]
    lines += [f"| gray | | | {gray['psnr']:.2f} | {gray['auc']:.4f} | {gray['full_psnr']:.3f} | "
              f"{gray['full_ciede2000']:.3f} |"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=64)
    parser.add_argument("--large", type=int, default=128)
    parser.add_argument("--minutes", type=float, default=12.0, help="training minutes per arm")
    parser.add_argument("--turn", type=int, default=100, help="batches between scores")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--output", type=Path, default=Path("runs/progressive"))
    parser.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    split, held = quality.split_photos(list(quality.DEFAULT_PHOTOS[:1]), args.output, "every-10th")
    held_folder = next(iter(held.values()))
    curves = {"device": cpu_description(), "minutes": args.minutes, "large": args.large, "small": args.small,
              "batch_size": args.batch_size, "set": args.set, "scratch": [], "progressive": [],
              "held": len(quality.photo_files.find_images(held_folder)),
              "train": len(quality.photo_files.find_images(split / "train"))}
    train_for_minutes(run_config(args, split, args.large), args.output / "scratch", args.minutes, args.turn,
                      held_folder, args.large, 0.0, curves["scratch"])
    spent = train_for_minutes(run_config(args, split, args.small), args.output / f"small-{args.small}",
                              args.minutes / 2, args.turn, None, args.small, 0.0, [])
    curves["small_minutes"] = spent
    train_for_minutes(run_config(args, split, args.large, args.output / f"small-{args.small}"),
                      args.output / "progressive", args.minutes - spent, args.turn, held_folder, args.large, spent,
                      curves["progressive"])
    (args.output / "curves.json").write_text(json.dumps(curves, indent=2), encoding="utf-8")
    table = markdown(curves)
    print(table)
    if args.record:
        print(f"Appended to {record(table, section=SECTION)}")


if __name__ == "__main__":
    main()
