"""Writing an evaluation: terminal and Markdown tables, metrics.json, accuracy curves and example grids."""
from __future__ import annotations

import json
import re
from pathlib import Path

from matplotlib.figure import Figure

from tfcolor.evaluation import grids

COLUMNS = ("kind", "accuracy", "psnr", "ssim", "auc", "colorfulness")


def _rows(results: dict) -> list[list[str]]:
    rows = []
    for label, values in results["candidates"].items():
        rows.append([label, values["kind"], f"{100 * values['accuracy']:.2f}%", f"{values['psnr']:.2f}",
                     f"{values['ssim']:.4f}", f"{values['auc']:.4f}", f"{values['colorfulness']:.1f}"])
    return rows


def _headers(results: dict) -> list[str]:
    return ["run", "kind", f"accuracy@{results['acc_thresh']:g}", "PSNR (dB)", "SSIM", "AuC", "colourfulness"]


def terminal_table(results: dict) -> str:
    headers, rows = _headers(results), _rows(results)
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    body = [line(headers), line("-" * w for w in widths), *(line(r) for r in rows)]
    return "\n".join([*body, f"{results['images']} images; ground-truth colourfulness "
                      f"{results['ground_truth_colorfulness']:.1f}"])


def markdown_table(results: dict) -> str:
    headers, rows = _headers(results), _rows(results)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines.append(f"| ground truth | | | | | | {results['ground_truth_colorfulness']:.1f} |")
    return "\n".join(lines) + f"\n\n{results['images']} images.\n"


def plot_accuracy(results: dict, path: Path) -> None:
    # A bare Figure draws to files without pyplot, so the user's Matplotlib backend is left alone.
    figure = Figure(figsize=(6, 4), dpi=100)
    axes = figure.add_subplot()
    for label, values in results["candidates"].items():
        curve = sorted((float(t), v) for t, v in values["accuracy_by_threshold"].items())
        axes.plot([t for t, _ in curve], [100 * v for _, v in curve], label=label,
                  linestyle="--" if values["kind"] == "baseline" else "-")
    axes.set_xlabel("threshold t (|ΔL| ≤ t, |Δa|, |Δb| ≤ 2.2 t)")
    axes.set_ylabel("pixel accuracy (%)")
    axes.set_ylim(0, 100)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)


def slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "run"


def write_all(results: dict, shown: dict, output: Path) -> list[Path]:
    """Write metrics.json, metrics.md, accuracy_vs_threshold.png and examples_<run>.png under `output`."""
    output.mkdir(parents=True, exist_ok=True)
    written = [output / "metrics.json", output / "metrics.md", output / "accuracy_vs_threshold.png"]
    written[0].write_text(json.dumps(results, indent=2, sort_keys=True), encoding="utf-8")
    written[1].write_text(markdown_table(results), encoding="utf-8")
    plot_accuracy(results, written[2])
    for label in results["candidates"]:
        if label in shown and "original" in shown:
            path = output / f"examples_{slug(label)}.png"
            grids.write_png(path, grids.stitch_columns([shown["gray"], shown["original"], shown[label]]))
            written.append(path)
    return written
