"""Which module opens each `--dataset`: the one table to extend with a new kind of dataset.

Each module has `open_splits(config, seed, unlisted) -> (train, validation)`, two `Source`s;
`unlisted` collects files left out while listing (name -> reason). A module may also have
`evaluation_split(config, unlisted)`, the photos to score a run on (default: the validation split).
"""
from __future__ import annotations

import importlib
from pathlib import Path

from tfcolor.config import DATASETS, DataConfig
from tfcolor.data.skips import DatasetError
from tfcolor.data.sources import Source

OPENERS = {
    "demo": "tfcolor.data.demo",
    "cifar10": "tfcolor.data.cifar",
    "places365": "tfcolor.data.places365",
    "folder": "tfcolor.data.photo_files",
    "tfrecord": "tfcolor.data.shard_reader",
}
# Datasets whose elements come cut to the model size at their own crop scale (the demo's patches).
PRE_CUT = ("demo",)


def _module(config: DataConfig):
    if config.dataset not in OPENERS:
        raise DatasetError(f"Unknown dataset {config.dataset!r}; expected one of {DATASETS}.")
    if config.dataset != "demo":
        if not config.dataset_path:
            raise DatasetError(f"--dataset {config.dataset} needs --dataset-path.")
        if not Path(config.dataset_path).exists():
            raise DatasetError(f"--dataset-path {config.dataset_path} does not exist.")
    return importlib.import_module(OPENERS[config.dataset])


def open_splits(config: DataConfig, seed: int, unlisted: dict[str, str]) -> tuple[Source, Source]:
    """(train, validation) of the dataset `config` names.

    Raises:
        DatasetError: unknown dataset, missing path, or not a dataset of that kind.
    """
    return _module(config).open_splits(config, seed, unlisted)


def validation_folder(path: str, unlisted: dict[str, str]) -> Source:
    """`--validation-path`: every photo of a folder, to validate on instead of the dataset's own split.

    Raises:
        DatasetError: not a folder.
    """
    if not Path(path).is_dir():
        raise DatasetError(f"--validation-path {path} is not a folder of photos.")
    return evaluation_split(DataConfig(dataset="folder", dataset_path=path), unlisted)


def evaluation_split(config: DataConfig, unlisted: dict[str, str]) -> Source:
    """The photos to score a run on: the validation split, or what the dataset's module says."""
    module = _module(config)
    if hasattr(module, "evaluation_split"):
        return module.evaluation_split(config, unlisted)
    return module.open_splits(config, 0, unlisted)[1]
