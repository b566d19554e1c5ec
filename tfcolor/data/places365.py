"""`--dataset places365`: `data_256/**.jpg` (train) and `val_256/*.jpg` (validation), or the original
code's cached file lists `train.flist` / `test.flist` (one path a line) when present."""
from __future__ import annotations

from pathlib import Path

from tfcolor.config import DataConfig
from tfcolor.data.photo_files import find_images
from tfcolor.data.skips import DatasetError
from tfcolor.data.sources import PhotoFiles


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


def open_splits(config: DataConfig, seed: int, unlisted: dict[str, str]) -> tuple[PhotoFiles, PhotoFiles]:
    return (PhotoFiles(places365_files(config.dataset_path, True, unlisted)),
            PhotoFiles(places365_files(config.dataset_path, False, unlisted)))
