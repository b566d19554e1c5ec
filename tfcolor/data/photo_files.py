"""Where a dataset's photos are on disk: image files in a folder, the Places365 layout and file lists."""
from __future__ import annotations

import os
from pathlib import Path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
FOLDER_VALIDATION_FRACTION = 0.05


class DatasetError(ValueError):
    """The dataset flags point at something that is not a usable dataset."""


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


UNTEXT_NAME_REASON = "its name is not valid UTF-8 (rename the file to use it)"


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


def _read_file_list(path: Path, root: Path) -> list[str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [line if Path(line).is_absolute() else str(root / line) for line in lines]


def places365_files(root: str | Path, train: bool, skipped: dict[str, str] | None = None) -> list[str]:
    """Places365 file list: `train.flist`/`test.flist` when present, else `data_256/**` / `val_256/*`."""
    root = Path(root)
    file_list = root / ("train.flist" if train else "test.flist")
    if file_list.is_file():
        return _read_file_list(file_list, root)
    folder = root / ("data_256" if train else "val_256")
    if not folder.is_dir():
        raise DatasetError(f"Places365 folder {folder} not found (expected data_256/ and val_256/ under {root}).")
    return find_images(folder, skipped)


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
