"""Many images through a server: inputs found in folders, outputs planned (those already written skipped),
up to N requests in flight, and a progress line.

`serving.client` sends one image; this module is what makes a folder of them a run that can be
interrupted and rerun: a rerun without `--overwrite` skips every output that exists (outputs are
written whole, so an existing one is complete) and sends only the rest. Standard library only, like
the client's REST path.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})  # compared lower-cased
MAX_CONCURRENCY = 64
REFRESH_SECONDS = 0.5  # the progress line is redrawn at least this often while requests run


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a run will send: `targets` maps each input to its output; `skipped` outputs exist already."""

    targets: dict[Path, Path]
    skipped: list[Path]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One image's result: the line to print, and whether it failed (printed to stderr, counted)."""

    line: str
    failed: bool = False


@dataclasses.dataclass
class Tally:
    written: int = 0
    failed: int = 0
    interrupted: bool = False


def count_flag(name: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse `type` for a whole number from `low` to `high` (`--concurrency`, `--retries`): beyond, a usage error."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {name} from {low} to {high}, got {text!r}")
        return value
    return parse


def find_images(folder: Path, exclude: Path | None = None) -> list[Path]:
    """The image files below `folder` (by suffix, any case), sorted; hidden files and folders, links to
    folders and anything under `exclude` (the output folder, so a rerun does not colorize its outputs) left out."""
    excluded = exclude.resolve() if exclude is not None else None
    found = []
    for parent, folders, files in os.walk(folder):
        if excluded is not None and Path(parent).resolve() == excluded:
            folders[:] = []
            continue
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [Path(parent) / name for name in files
                  if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES]
    return sorted(found)


def plan_outputs(names: list[Path], out: Path, overwrite: bool = False) -> Plan:
    """Each input (a file, or the images of a folder) -> `out/<its path relative to the inputs' common
    folder>.png`; a folder counts as its own common folder (`photos/` -> `out/a.png`, `out/sub/b.png`).

    Raises:
        FileExistsError: two inputs would write one output (both named); nothing is sent then.
        FileNotFoundError: a folder holds no image file.
    """
    given: dict[Path, Path] = {}
    anchors = []
    for name in names:
        if name.is_dir():
            images = find_images(name, exclude=out)
            if not images:
                raise FileNotFoundError(f"{name} holds no image file ({', '.join(sorted(IMAGE_SUFFIXES))})")
            anchors.append(name.resolve())
        else:
            images = [name]
            anchors.append(name.resolve().parent)
        for path in images:
            given.setdefault(path.resolve(), path)  # one entry per file, as first named or found
    root = Path(os.path.commonpath(anchors))
    targets = {path: out / resolved.relative_to(root).with_suffix(".png") for resolved, path in given.items()}
    by_target: dict[Path, list[Path]] = {}
    for path, target in targets.items():
        by_target.setdefault(target, []).append(path)
    collisions = [f"{' and '.join(map(str, sources))} would both be written to {target}"
                  for target, sources in by_target.items() if len(sources) > 1]
    if collisions:
        raise FileExistsError("nothing was written: " + "; ".join(collisions))
    skipped = [] if overwrite else [target for target in by_target if os.path.lexists(target)]
    kept = set(skipped)
    return Plan({path: target for path, target in targets.items() if target not in kept}, skipped)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def progress_line(done: int, total: int, in_flight: int, failed: int, elapsed_s: float) -> str:
    """`[ 12/200] 3 in flight, 2.4 img/s, 1 failed, eta 1m20s` (rate and eta once an image is done)."""
    rate = done / elapsed_s if done and elapsed_s > 0 else None
    speed = f"{rate:.1f} img/s" if rate else "-- img/s"
    eta = _duration((total - done) / rate) if rate else "?"
    return f"[{done:>{len(str(total))}}/{total}] {in_flight} in flight, {speed}, {failed} failed, eta {eta}"


class Console:
    """The per-image lines (stdout, failures on stderr) and, when `stderr` is a terminal, one progress line
    below them, redrawn in place with `\\r`. Only the thread that runs `colorize_all` writes to it."""

    def __init__(self, total: int, stdout: TextIO, stderr: TextIO):
        self.total, self.stdout, self.stderr = total, stdout, stderr
        self.bar = stderr.isatty()
        self.started = time.monotonic()

    def show(self, done: int, in_flight: int, failed: int) -> None:
        if self.bar:
            line = progress_line(done, self.total, in_flight, failed, time.monotonic() - self.started)
            self.stderr.write(f"\r\x1b[K{line}")
            self.stderr.flush()

    def print(self, outcome: Outcome) -> None:
        if self.bar:
            self.stderr.write("\r\x1b[K")  # clear the progress line; show() draws it again below
            self.stderr.flush()
        stream = self.stderr if outcome.failed else self.stdout
        print(outcome.line, file=stream, flush=True)

    def close(self) -> None:
        if self.bar:
            self.stderr.write("\r\x1b[K")
            self.stderr.flush()


def colorize_all(targets: dict[Path, Path], work: Callable[[Path, Path], Outcome], concurrency: int,
                 console: Console, stop: threading.Event) -> Tally:
    """`work(input, output)` for each target on `concurrency` threads, at most that many at once; an
    interruption (Ctrl-C) sets `stop` (retry waits end), cancels what has not started and returns once
    the running ones end (their outputs are written whole, so a rerun skips them)."""
    tally = Tally()
    jobs = iter(targets.items())
    pending: set[concurrent.futures.Future] = set()
    with concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix="colorize") as pool:
        try:
            while True:
                while len(pending) < concurrency and (job := next(jobs, None)) is not None:
                    pending.add(pool.submit(work, *job))
                if not pending:
                    break
                console.show(tally.written + tally.failed, len(pending), tally.failed)
                done, pending = concurrent.futures.wait(pending, REFRESH_SECONDS, concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    outcome = future.result()
                    if outcome.failed:
                        tally.failed += 1
                    else:
                        tally.written += 1
                    console.print(outcome)
        except KeyboardInterrupt:
            stop.set()
            for future in pending:
                future.cancel()
            tally.interrupted = True
        finally:
            console.close()
    return tally
