"""CIFAR-10, the official "python version": pickled batches read without trusting the pickle.

Each of `data_batch_1..5` (train) and `test_batch` (validation) is a pickled dict with `b'data'`
(N x 3072 uint8: planar R, G, B planes, each row-major 32 x 32) and `b'labels'` (N class numbers).
`pickle.load` would run whatever code a crafted file names, so the unpickler here resolves no
globals except NumPy's array reconstruction helpers, which is all a genuine batch contains. Before
it runs, every length the file claims is checked against the bytes it holds (a 14-byte file must
not make the unpickler allocate a terabyte); while it runs, what those helpers build is charged to a
budget of a few times the file's size (an allowed constructor called with a huge shape, or one string
encoded again and again, is refused before it allocates); after it, the keys, types and shapes are checked.
Every failure is a `DatasetError` naming the file.
"""
from __future__ import annotations

import codecs
import io
import math
import pickle
import pickletools
from pathlib import Path

import numpy as np

from tfcolor.config import DataConfig
from tfcolor.data.skips import DatasetError
from tfcolor.data.sources import ImageArray

TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
IMAGE_SIZE = 32

# What a genuine batch's pickle names: NumPy's array reconstruction and, for bytes pickled by Python 3
# at protocol 2, `_codecs.encode(text, "latin1")`. Nothing else resolves.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
}
# All that one file's objects may hold: a few times its size (a genuine batch holds its own bytes once
# or twice), plus room for a tiny file's dict and dtype.
BUDGET_PER_FILE_BYTE = 4
BUDGET_SLACK_BYTES = 1 << 20


class UnsafePickleError(DatasetError):
    """A CIFAR-10 batch file asks the unpickler for something a genuine batch never contains."""


class _Budget:
    """The bytes the unpickler may still allocate for one file. Allowed constructors are no bound by
    themselves: `numpy.ndarray((2000000, 3072), uint8)` takes a 286-byte file and allocates 5.7 GB, and
    one memoised string encoded again and again multiplies the file."""

    def __init__(self, file_bytes: int):
        self.file_bytes = file_bytes
        self.left = BUDGET_PER_FILE_BYTE * file_bytes + BUDGET_SLACK_BYTES

    def spend(self, nbytes: int, what: str) -> None:
        if nbytes > self.left:
            raise UnsafePickleError(f"refuses {what}: {nbytes} bytes, more than a file of {self.file_bytes} "
                                    "bytes can hold")
        self.left -= nbytes


def _array_bytes(shape: object, dtype: object) -> int:
    dims = (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(isinstance(d, int) and d >= 0 for d in dims):
        raise UnsafePickleError(f"refuses an array of shape {shape!r}")
    return math.prod(dims) * np.dtype(dtype).itemsize


def _bounded_globals(budget: _Budget) -> dict[tuple[str, str], object]:
    """The allowed globals, each charging what it builds to `budget` before building it."""

    class BoundedArray(np.ndarray):
        """`numpy.ndarray` as the pickle sees it: called directly (never in a genuine batch) or given
        state, it pays for its bytes first. `_reconstruct` makes instances of it without `__new__`."""

        def __new__(cls, shape, dtype=float, *args, **kwargs):
            budget.spend(_array_bytes(shape, dtype), "numpy.ndarray")
            return super().__new__(cls, shape, dtype, *args, **kwargs)

        def __setstate__(self, state):
            shape, dtype = state[-4], state[-3]  # (version,) shape, dtype, is_fortran, raw data
            budget.spend(_array_bytes(shape, dtype), "an array's state")
            super().__setstate__(state)

    def reconstruct(subtype, shape, dtype):
        budget.spend(_array_bytes(shape, dtype), "numpy's _reconstruct")
        return np._core.multiarray._reconstruct(subtype, shape, dtype)

    def encode(text, encoding="utf-8", errors="strict"):
        budget.spend(len(text), "_codecs.encode")  # latin1: one byte per character
        return codecs.encode(text, encoding, errors)

    replaced = {("numpy", "ndarray"): BoundedArray, ("_codecs", "encode"): encode}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        replaced[(module, "_reconstruct")] = reconstruct
    return replaced


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, raw: bytes):
        super().__init__(io.BytesIO(raw), encoding="bytes")
        self.bounded = _bounded_globals(_Budget(len(raw)))

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise UnsafePickleError(f"refuses to load {module}.{name}")
        return self.bounded.get((module, name)) or super().find_class(module, name)


def _check_claimed_lengths(raw: bytes) -> None:
    """Walk the pickle's opcodes without building anything; a length beyond the file's end raises
    ValueError here, where the unpickler would first try to allocate it."""
    for _ in pickletools.genops(io.BytesIO(raw)):
        pass


def _checked_images(batch: object, path: Path) -> np.ndarray:
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        found = sorted(map(repr, batch)) if isinstance(batch, dict) else type(batch).__name__
        raise DatasetError(f"{path}: expected a dict with b'data' and b'labels', got {found}")
    data = batch[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * IMAGE_SIZE * IMAGE_SIZE:
        got = f"{data.shape} {data.dtype}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(f"{path}: b'data' should be N x 3072 uint8, got {got}")
    labels = batch[b"labels"]
    if not isinstance(labels, (list, np.ndarray)) or len(labels) != len(data):
        count = len(labels) if isinstance(labels, (list, np.ndarray)) else type(labels).__name__
        raise DatasetError(f"{path}: b'labels' should be a list of {len(data)} class numbers, got {count}")
    return data


def read_batch(path: str | Path) -> np.ndarray:
    """One CIFAR-10 batch file -> images `(N, 32, 32, 3)` uint8.

    Raises:
        UnsafePickleError: the file asks for code a genuine batch never names (e.g. a crafted pickle).
        DatasetError: the file is unreadable, truncated, claims more bytes than it holds, or its
            keys, types or shapes are not a batch's.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        _check_claimed_lengths(raw)
        batch = _RestrictedUnpickler(raw).load()
    except UnsafePickleError as error:
        raise UnsafePickleError(f"{path}: not a genuine CIFAR-10 batch, the unpickler {error}") from None
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, MemoryError) as error:
        raise DatasetError(f"{path}: not a readable CIFAR-10 batch ({type(error).__name__}: {error})") from None
    data = _checked_images(batch, path).view(np.ndarray)
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


def open_splits(config: DataConfig, seed: int, unlisted: dict[str, str]) -> tuple[ImageArray, ImageArray]:
    try:
        return ImageArray(load_split(config.dataset_path, True)), ImageArray(load_split(config.dataset_path, False))
    except FileNotFoundError as error:
        raise DatasetError(str(error)) from None
