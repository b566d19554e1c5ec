"""`--dataset folder`: any folder of photos, recursive (jpg, png, bmp, gif first frame, webp).

A `train/` + `val/` pair of sub-folders is the split when present, else every 20th photo is held out.
"""
from __future__ import annotations

import os
from pathlib import Path

from tfcolor.config import DataConfig
from tfcolor.data.skips import UNTEXT_NAME_REASON, DatasetError
from tfcolor.data.sources import PhotoFiles

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
FOLDER_VALIDATION_FRACTION = 0.05


def printable(path: str | Path) -> str:
    """A path as text that can always be printed or written to JSON (undecodable bytes as \\xNN escapes)."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def has_text_name(path: str | Path) -> bool:
    """False for names that are not valid UTF-8 (Python keeps those as lone surrogates)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def source_of(path: str | Path) -> str:
    """The collection a photo comes from, as its file name's prefix names it (`kphotoalbum-snow.jpg` ->
    `kphotoalbum`, the convention of `../shared/photos*`, whose SOURCES.md lists each package). A link
    is named by what it links to, so a folder of links (a benchmark's split) keeps its photos' sources."""
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    return path.name.split("-", 1)[0]


def find_images(root: str | Path, skipped: dict[str, str] | None = None) -> list[str]:
    """Image files under `root`, recursive, sorted (case-insensitive extensions).

    Files whose names are not valid UTF-8 are left out (every report, JSON file and output name needs
    text); with `skipped`, each one is added to it as printable name -> reason.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder of images.")
    # Not only regular files: a broken link or an unreadable entry is listed, so reading it reports why.
    found = sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and not p.is_dir())
    if skipped is not None:
        skipped.update({printable(path): UNTEXT_NAME_REASON for path in found if not has_text_name(path)})
    return [path for path in found if has_text_name(path)]


def folder_files(root: str | Path, skipped: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """(train, validation) files of a photo folder: its `train/` and `val/` when present, else a 5% hold-out.
    Names that are not UTF-8 are left out, and added to `skipped` (see `find_images`)."""
    root = Path(root)
    if (root / "train").is_dir() and (root / "val").is_dir():
        return find_images(root / "train", skipped), find_images(root / "val", skipped)
    files = find_images(root, skipped)
    held_out = max(1, int(len(files) * FOLDER_VALIDATION_FRACTION)) if len(files) > 1 else 0
    # Every k-th file is held out, so the split is stable and spread over the whole folder.
    step = max(1, len(files) // held_out) if held_out else len(files) + 1
    validation = files[::step][:held_out]
    validation_set = set(validation)
    return [f for f in files if f not in validation_set], validation


def open_splits(config: DataConfig, seed: int, unlisted: dict[str, str]) -> tuple[PhotoFiles, PhotoFiles]:
    train, validation = folder_files(config.dataset_path, unlisted)
    return PhotoFiles(train), PhotoFiles(validation)


def evaluation_split(config: DataConfig, unlisted: dict[str, str]) -> PhotoFiles:
    """Every photo of the folder: a folder given for evaluation is the evaluation set."""
    train, validation = folder_files(config.dataset_path, unlisted)
    return PhotoFiles(train + validation)
