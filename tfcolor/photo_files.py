"""Where a dataset's photos are on disk: image files in a folder, the Places365 layout and file lists."""
from __future__ import annotations

from pathlib import Path

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
FOLDER_VALIDATION_FRACTION = 0.05


class DatasetError(ValueError):
    """The dataset flags point at something that is not a usable dataset."""


def find_images(root: str | Path) -> list[str]:
    """Image files under `root`, recursive, sorted (case-insensitive extensions)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder of images.")
    return sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _read_file_list(path: Path, root: Path) -> list[str]:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [line if Path(line).is_absolute() else str(root / line) for line in lines]


def places365_files(root: str | Path, train: bool) -> list[str]:
    """Places365 file list: `train.flist`/`test.flist` when present, else `data_256/**` / `val_256/*`."""
    root = Path(root)
    file_list = root / ("train.flist" if train else "test.flist")
    if file_list.is_file():
        return _read_file_list(file_list, root)
    folder = root / ("data_256" if train else "val_256")
    if not folder.is_dir():
        raise DatasetError(f"Places365 folder {folder} not found (expected data_256/ and val_256/ under {root}).")
    return find_images(folder)


def folder_files(root: str | Path) -> tuple[list[str], list[str]]:
    """(train, validation) files of a photo folder: its `train/` and `val/` when present, else a 5% hold-out."""
    root = Path(root)
    if (root / "train").is_dir() and (root / "val").is_dir():
        return find_images(root / "train"), find_images(root / "val")
    files = find_images(root)
    held_out = max(1, int(len(files) * FOLDER_VALIDATION_FRACTION)) if len(files) > 1 else 0
    # Every k-th file is held out, so the split is stable and spread over the whole folder.
    step = max(1, len(files) // held_out) if held_out else len(files) + 1
    validation = files[::step][:held_out]
    validation_set = set(validation)
    return [f for f in files if f not in validation_set], validation
