"""CIFAR-10, the official "python version": pickled batches read without trusting the pickle.

Each of `data_batch_1..5` (train) and `test_batch` (validation) is a pickled dict with `b'data'`
(N x 3072 uint8: planar R, G, B planes, each row-major 32 x 32) and `b'labels'`. `pickle.load`
would run whatever code a crafted file names, so the unpickler here resolves no globals except
NumPy's array reconstruction helpers, which is all a genuine batch contains.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
IMAGE_SIZE = 32

_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    # Python 3 pickles bytes at protocol 2 as _codecs.encode(text, "latin1"): harmless.
    ("_codecs", "encode"),
}


class UnsafePickleError(ValueError):
    """A CIFAR-10 batch file asks the unpickler for something a genuine batch never contains."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise UnsafePickleError(f"refuses to load {module}.{name}")
        return super().find_class(module, name)


def read_batch(path: str | Path) -> np.ndarray:
    """One CIFAR-10 batch file -> images `(N, 32, 32, 3)` uint8.

    Raises:
        UnsafePickleError: the file is not a plain dict of bytes/lists/arrays (e.g. a crafted pickle).
        ValueError: the file is truncated or its `data` has the wrong shape.
    """
    path = Path(path)
    try:
        batch = _RestrictedUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except UnsafePickleError as error:
        raise UnsafePickleError(f"{path}: not a genuine CIFAR-10 batch, the unpickler {error}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as error:
        raise ValueError(f"{path}: not a readable CIFAR-10 batch ({type(error).__name__}: {error})") from None
    if not isinstance(batch, dict) or b"data" not in batch:
        raise ValueError(f"{path}: expected a dict with b'data', got {type(batch).__name__}")
    data = np.asarray(batch[b"data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * IMAGE_SIZE * IMAGE_SIZE:
        raise ValueError(f"{path}: b'data' should be N x 3072 uint8, got {data.shape} {data.dtype}")
    return data.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE).transpose(0, 2, 3, 1)


def load_split(root: str | Path, train: bool) -> np.ndarray:
    """All images of the train (`data_batch_1..5`) or test (`test_batch`) split under `root`.

    `root` may be the extracted `cifar-10-batches-py` folder or the folder that contains it.
    """
    root = Path(root)
    if not (root / TEST_BATCHES[0]).exists() and (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    names = TRAIN_BATCHES if train else TEST_BATCHES
    missing = [name for name in names if not (root / name).is_file()]
    if missing:
        raise FileNotFoundError(f"CIFAR-10 batches {missing} not found under {root} (expected the python version).")
    return np.concatenate([read_batch(root / name) for name in names])
