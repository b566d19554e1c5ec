"""Writing an evaluation: terminal and Markdown tables, metrics.json, accuracy curves and example grids.

Two tables when the evaluation has them: the crop-level scores at the model's size, and the scores of
the photos at their own sizes (`full_resolution`).
"""
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


FULL_RESOLUTION_HEADERS = ["run", "kind", "PSNR (dB)", "mean ΔE00", "colourfulness", "ΔCF", "ms/Mpx"]


def _full_resolution_rows(section: dict) -> list[list[str]]:
    return [[label, values["kind"], f"{values['psnr']:.2f}", f"{values['ciede2000']:.2f}",
             f"{values['colorfulness']:.1f}", f"{values['delta_colorfulness']:.1f}",
             f"{section['colorize_ms_per_megapixel'][label]:.0f}"] for label, values in section["candidates"].items()]


def _full_resolution_note(section: dict) -> str:
    return (f"{section['images']} photos at their own sizes ({section['megapixels']:.1f} Mpx), as tfcolor.colorize "
            f"writes them with --upsample {section['upsample']}; ground-truth colourfulness "
            f"{section['ground_truth_colorfulness']:.1f}")


def _aligned(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return [line(headers), line("-" * w for w in widths), *(line(r) for r in rows)]


def _markdown(headers: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers), *("| " + " | ".join(r) + " |" for r in rows)]


def terminal_table(results: dict) -> str:
    """The crop-level table, then the full-resolution one when the evaluation has it."""
    lines = [*_aligned(_headers(results), _rows(results)),
             f"{results['images']} images; ground-truth colourfulness {results['ground_truth_colorfulness']:.1f}"]
    if "full_resolution" in results:
        section = results["full_resolution"]
        lines += ["", "Full resolution:", *_aligned(FULL_RESOLUTION_HEADERS, _full_resolution_rows(section)),
                  _full_resolution_note(section)]
    return "\n".join(lines)


def markdown_table(results: dict) -> str:
    lines = _markdown(_headers(results), _rows(results))
    lines.append(f"| ground truth | | | | | | {results['ground_truth_colorfulness']:.1f} |")
    text = "\n".join(lines) + f"\n\n{results['images']} images.\n"
    if "full_resolution" in results:
        section = results["full_resolution"]
        text += "\n## Full resolution\n\n" + "\n".join(_markdown(FULL_RESOLUTION_HEADERS, _full_resolution_rows(section)))
        text += f"\n\n{_full_resolution_note(section)}.\n"
    return text


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
