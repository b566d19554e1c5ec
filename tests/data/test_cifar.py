import io
import os
import pickle
import struct

import numpy as np
import pytest

from tests.helpers import TINY_TRAIN_ARGS, photo_crops, write_cifar_batch
from tfcolor import train
from tfcolor.data import cifar
from tfcolor.data.skips import DatasetError


def test_reads_official_layout_back_to_images(tmp_path):
    images = photo_crops(3)
    write_cifar_batch(tmp_path / "data_batch_1", images)
    np.testing.assert_array_equal(cifar.read_batch(tmp_path / "data_batch_1"), images)


def test_planar_rows_are_red_then_green_then_blue(tmp_path):
    planar = np.zeros((1, 3072), np.uint8)
    planar[0, :1024] = 200  # red plane
    planar[0, 2048:] = 50  # blue plane
    (tmp_path / "b").write_bytes(pickle.dumps({b"data": planar, b"labels": [0]}, protocol=2))
    image = cifar.read_batch(tmp_path / "b")
    assert image.shape == (1, 32, 32, 3)
    assert tuple(image[0, 5, 7]) == (200, 0, 50)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):

        return (os.system, (f"touch {self.marker}",))


def test_crafted_pickle_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": _Exploit(marker)}, protocol=2))
    with pytest.raises(cifar.UnsafePickleError, match="data_batch_1.*system"):
        cifar.read_batch(tmp_path / "data_batch_1")
    assert not marker.exists()


def test_truncated_and_wrong_shaped_batches_give_clear_errors(tmp_path):
    write_cifar_batch(tmp_path / "good", photo_crops(2))
    (tmp_path / "truncated").write_bytes((tmp_path / "good").read_bytes()[:100])
    with pytest.raises(ValueError, match="truncated|not a readable CIFAR-10 batch"):
        cifar.read_batch(tmp_path / "truncated")
    (tmp_path / "shape").write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}, protocol=2))
    with pytest.raises(ValueError, match="N x 3072"):
        cifar.read_batch(tmp_path / "shape")


def test_load_split_accepts_parent_folder_and_names_missing_batches(cifar_dir):
    assert cifar.load_split(cifar_dir.parent, train=True).shape == (30, 32, 32, 3)
    assert cifar.load_split(cifar_dir, train=False).shape == (4, 32, 32, 3)
    (cifar_dir / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        cifar.load_split(cifar_dir, train=True)


def cifar_faults() -> dict[str, bytes]:
    good = io.BytesIO()
    planar = photo_crops(2).transpose(0, 3, 1, 2).reshape(2, -1)
    pickle.dump({b"data": planar, b"labels": [0, 1]}, good, protocol=2)
    return {
        "truncated": good.getvalue()[: len(good.getvalue()) // 2],
        "wrong shape": pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}, protocol=2),
        "wrong dtype": pickle.dumps({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, protocol=2),
        "not a dict": pickle.dumps([planar], protocol=2),
        "claims 2^40 bytes": b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"ab.",
    }


@pytest.mark.parametrize("fault", list(cifar_faults()))
def test_a_bad_cifar_batch_is_a_clear_error_naming_the_file(cifar_dir, tmp_path, capsys, fault):
    bad = cifar_dir / "data_batch_3"
    bad.write_bytes(cifar_faults()[fault])
    assert len(cifar_faults()["claims 2^40 bytes"]) == 14
    code = train.main([*TINY_TRAIN_ARGS, "--dataset", "cifar10", "--dataset-path", str(cifar_dir),
                       "--checkpoints-path", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1
    assert f"error: {bad}: " in err and "Traceback" not in err and "MemoryError" not in err


class _HugeArray:
    """Pickles as a call of the allowed `numpy.ndarray` with a shape of 5.7 GB: the probe's 286-byte batch."""

    def __reduce__(self):
        return np.ndarray, ((2_000_000, 3072), np.dtype(np.uint8))


def test_an_allowed_constructor_cannot_allocate_more_than_the_file_holds(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _HugeArray(), b"labels": []}, protocol=2))
    assert path.stat().st_size < 400
    with pytest.raises(DatasetError, match=r"data_batch_1: .*refuses numpy.ndarray: 6144000000 bytes, more than a file"):
        cifar.read_batch(path)


def test_one_memoised_string_encoded_again_and_again_is_refused(tmp_path):
    # _codecs.encode(text, "latin1") is how Python 3 pickles bytes at protocol 2; a crafted file calls it
    # 2000 times on one memoised megabyte: 2 GB from a 1 MB file.
    text = pickle.dumps("x" * 2**20, protocol=2)[2:-3]  # BINUNICODE of a 1 MB string (no PROTO, BINPUT, STOP)
    call = b"h\x00h\x01X\x06\x00\x00\x00latin1\x86R"  # BINGET encode, BINGET text, "latin1", TUPLE2, REDUCE
    raw = (b"\x80\x02c_codecs\nencode\nq\x00" + text + b"q\x01" + b"]q\x02(" + call * 2000 + b"e.")
    path = tmp_path / "data_batch_1"
    path.write_bytes(raw)
    with pytest.raises(DatasetError, match=r"refuses _codecs.encode: \d+ bytes, more than a file of"):
        cifar.read_batch(path)


def test_a_genuine_batch_pickled_by_python_3_at_protocol_2_is_within_the_budget(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (1000, 32, 32, 3), dtype=np.uint8)  # 3 MB of data
    write_cifar_batch(tmp_path / "data_batch_1", images)
    np.testing.assert_array_equal(cifar.read_batch(tmp_path / "data_batch_1"), images)
