"""Faults a real disk and real users produce, each answered as issue 14 specifies: nothing is lost,
every skip is said, and no traceback reaches the user."""
from __future__ import annotations

import io
import os
import pickle
import shutil
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from export import versions
from serving import client
from tfcolor import colorize, train
from tfcolor.config import run_layout
from tfcolor.data import pipelines
from tfcolor.training import checkpoints
from tfcolor.config import DataConfig

from conftest import TINY_TRAIN_ARGS, photo_crops, save_image

SHARED_PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "photos"
NOT_UTF8_NAME = b"caf\xe9.jpg"  # Latin-1 bytes: not a valid UTF-8 file name


def checkpoint_files(run_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(run_dir)) for p in (run_dir / run_layout.CHECKPOINTS_DIR).rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def run_with_three_checkpoints(tmp_path_factory) -> Path:
    """A tiny GAN trained 6 steps, checkpoints at steps 2, 4 and 6 (read-only: tests copy it)."""
    run = tmp_path_factory.mktemp("faults") / "run"
    assert train.main([*TINY_TRAIN_ARGS, "--checkpoints-path", str(run), "--max-steps", "6", "--save-interval", "2",
                       "--sample", "0"]) == 0
    return run


@pytest.fixture
def run_copy(run_with_three_checkpoints, tmp_path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(run_with_three_checkpoints, target)
    return target


def data_file(run_dir: Path, number: int) -> Path:
    (found,) = (run_dir / run_layout.CHECKPOINTS_DIR).glob(f"ckpt-{number}.data-*")
    return found


@pytest.mark.slow
def test_a_garbage_checkpoint_state_file_stops_instead_of_restarting_then_resumes_from_the_named_one(run_copy, capsys):
    state = run_copy / run_layout.CHECKPOINTS_DIR / "checkpoint"
    state.write_text("model_checkpoint_path: {{{ half-written sync")
    before = checkpoint_files(run_copy)
    assert train.main(["--checkpoints-path", str(run_copy), "--max-steps", "8"]) == 1
    err = capsys.readouterr().err
    assert f"{state} is not a readable checkpoint state file" in err
    assert "--resume-from ckpt-6 (readable: ckpt-6, ckpt-4, ckpt-2" in err and "--restart" in err
    assert checkpoint_files(run_copy) == before  # nothing deleted, no ckpt-8 beside an orphaned ckpt-6

    assert train.main(["--checkpoints-path", str(run_copy), "--max-steps", "8", "--resume-from", "ckpt-6"]) == 0
    assert "Resuming from step 6" in capsys.readouterr().out
    _, model = checkpoints.load_trained_model(run_copy)
    assert int(model.trained_batches.numpy()) == 8
    (aside,) = (run_copy / run_layout.CHECKPOINTS_DIR).glob("aside-*")
    assert "half-written" in (aside / "checkpoint").read_text()  # the bad file is kept, not deleted


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["garbage index", "truncated data", "empty state file"])
def test_an_unreadable_newest_checkpoint_names_the_file_and_the_readable_ones(run_copy, capsys, fault):
    checkpoints = run_copy / run_layout.CHECKPOINTS_DIR
    if fault == "garbage index":
        (checkpoints / "ckpt-6.index").write_bytes(b"not an sstable")
    elif fault == "truncated data":
        data_path = data_file(run_copy, 6)
        data_path.write_bytes(data_path.read_bytes()[: data_path.stat().st_size // 2])
    else:
        (checkpoints / "checkpoint").write_text("")
    before = checkpoint_files(run_copy)
    assert train.main(["--checkpoints-path", str(run_copy), "--max-steps", "8"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Nothing was changed" in err
    if fault == "empty state file":
        assert "checkpoint is not a readable checkpoint state file" in err and "--resume-from ckpt-6" in err
    else:
        assert f"cannot resume from {checkpoints / 'ckpt-6'}" in err
        assert "--resume-from ckpt-4 (readable: ckpt-4, ckpt-2;" in err
    assert checkpoint_files(run_copy) == before


@pytest.mark.slow
def test_resume_from_an_unreadable_checkpoint_is_refused_and_restart_moves_checkpoints_aside(run_copy, capsys):
    (run_copy / run_layout.CHECKPOINTS_DIR / "ckpt-6.index").write_bytes(b"not an sstable")
    assert train.main(["--checkpoints-path", str(run_copy), "--resume-from", "ckpt-6"]) == 1
    assert "--resume-from ckpt-6: " in capsys.readouterr().err
    assert train.main(["--checkpoints-path", str(run_copy), "--resume-from", "ckpt-9"]) == 1
    assert "no such checkpoint" in capsys.readouterr().err
    old = checkpoint_files(run_copy)

    assert train.main(["--checkpoints-path", str(run_copy), "--max-steps", "2", "--restart"]) == 0
    out = capsys.readouterr().out
    assert "Starting over from step 0" in out and "Resuming" not in out
    (aside,) = run_copy.glob(f"{run_layout.CHECKPOINTS_DIR}.aside-*")
    assert sorted(str(p.relative_to(aside)) for p in aside.rglob("*") if p.is_file()) == \
        [name.split("/", 1)[1] for name in old]
    _, model = checkpoints.load_trained_model(run_copy)
    assert int(model.trained_batches.numpy()) == 2


def test_a_run_directory_without_checkpoints_starts_fresh(tmp_path):
    assert checkpoints.restore_newest(None, tmp_path) is None  # nothing to restore: no model is touched
    assert checkpoints.checkpoint_numbers(tmp_path / run_layout.CHECKPOINTS_DIR) == []


def flat_png(side: int) -> bytes:
    """A decompression bomb: a `side`x`side` one-colour PNG, tens of KB on disk, side² bytes decoded."""
    buffer = io.BytesIO()
    Image.new("L", (side, side)).save(buffer, "PNG")
    return buffer.getvalue()


def mixed_folder(root: Path) -> dict[str, str]:
    """Good photos beside every kind of bad file; returns {bad file's printable name: expected reason}."""
    crops = photo_crops(3, size=40)
    save_image(root / "good.jpg", crops[0], quality=95)
    save_image(root / "sub" / "good.png", crops[1])
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    (root / "gone.jpg").symlink_to(root / "deleted-long-ago.jpg")
    os.close(os.open(os.fsencode(root) + b"/" + NOT_UTF8_NAME, os.O_WRONLY | os.O_CREAT))
    (root / "bomb.png").write_bytes(flat_png(9000))
    expected = {
        "broken.jpg": "not a readable image",
        "gone.jpg": "unreadable (No such file or directory)",
        "caf\\xe9.jpg": "its name is not valid UTF-8",
        "bomb.png": "image is 9000x9000 = 81000000 pixels, over the limit of 50000000 pixels",
    }
    if os.geteuid() != 0:  # root reads any file whatever its mode
        save_image(root / "locked.jpg", crops[2], quality=95).chmod(0)
        expected["locked.jpg"] = "unreadable (Permission denied)"
    return expected


def test_colorize_processes_the_good_photos_of_a_mixed_folder_and_reports_each_bad_one(trained_run, tmp_path, capsys):
    expected = mixed_folder(tmp_path / "in")
    out = tmp_path / "out"
    code = colorize.main(["--run", str(trained_run), "--test-input", str(tmp_path / "in"), "--test-output", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["good.png", "sub/good.png"]
    skipped_lines = [line for line in captured.err.splitlines() if line.startswith("skipped ")]
    assert len(skipped_lines) == len(expected)
    for name, reason in expected.items():
        assert any(name in line and reason in line for line in skipped_lines), (name, captured.err)
    assert f"Colorized 2 of {2 + len(expected)} images" in captured.out

    strict = colorize.main(["--run", str(trained_run), "--test-input", str(tmp_path / "in"),
                            "--test-output", str(tmp_path / "strict"), "--strict"])
    assert strict == 1


def test_training_on_a_folder_with_bad_names_counts_each_skip_exactly(tmp_path):
    root = tmp_path / "photos"
    for index, crop in enumerate(photo_crops(10, size=48)):
        save_image(root / f"{index:02d}.jpg", crop, quality=95)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    (root / "bomb.png").write_bytes(flat_png(9000))
    shutil.copy(root / "00.jpg", os.fsencode(root) + b"/" + NOT_UTF8_NAME)
    pipes = pipelines.make_pipelines(DataConfig(dataset="folder", dataset_path=str(root), image_size=32), 2, seed=0,
                                validate=False)
    assert pipes.stats.unlisted == {f"{root}/caf\\xe9.jpg": "its name is not valid UTF-8 (rename the file to use it)"}
    for _ in pipes.train.take(pipes.steps_per_epoch):
        pass
    counts = pipes.stats.as_dict()  # each pass over the files reads each bad one once
    assert counts["corrupt"] >= 1 and counts["oversized"] >= 1 and counts["grayscale"] == 0
    assert pipes.survey() == {"files": 11, "corrupt": 1, "oversized": 1, "grayscale": 0}  # exactly, over one pass


@pytest.mark.slow
def test_training_on_the_shared_real_photos_reports_no_corrupt_image(tmp_path, capsys):
    if not SHARED_PHOTOS.is_dir():
        pytest.skip(f"{SHARED_PHOTOS} is absent (the real photos live beside the checkout)")
    pipes = pipelines.make_pipelines(DataConfig(dataset="folder", dataset_path=str(SHARED_PHOTOS), image_size=32), 32,
                                seed=0, validate=False)
    for _ in pipes.train.take(pipes.steps_per_epoch + 2):  # into the next epoch, with reads in flight
        pass
    assert pipes.stats.as_dict()["corrupt"] == 0 and pipes.stats.as_dict()["oversized"] == 0
    assert train.main([*TINY_TRAIN_ARGS, "--dataset", "folder", "--dataset-path", str(SHARED_PHOTOS),
                       "--checkpoints-path", str(tmp_path / "run"), "--batch-size", "64", "--max-steps", "8",
                       "--epochs", "2", "--sample", "0", "--validate", "false", "--save", "false"]) == 0
    out = capsys.readouterr().out
    assert "Epoch 1" in out or "epoch" in out.lower()
    assert "corrupt" not in out


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


def test_exports_claiming_the_same_version_at_once_get_distinct_ones(tmp_path):
    base = tmp_path / "models" / "tfcolor"
    start = threading.Barrier(4)
    written: list[Path] = []
    errors: list[BaseException] = []

    def build(folder: Path) -> None:
        (folder / "saved_model.pb").write_bytes(b"model")

    def export_one() -> None:
        start.wait(timeout=30)
        try:
            written.append(versions.write_version(base, None, build))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=export_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and sorted(p.name for p in written) == ["1", "2", "3", "4"]
    assert versions.existing_versions(base) == [1, 2, 3, 4] and not list(base.glob(".tmp-*"))


def test_a_live_export_keeps_its_claim_and_a_killed_ones_leftover_is_removed(tmp_path):
    base = tmp_path / "tfcolor"
    base.mkdir()
    killed = base / f"{versions.TEMPORARY_PREFIX}3"
    killed.mkdir()
    (base / f"{versions.TEMPORARY_PREFIX}3{versions.LOCK_SUFFIX}").touch()  # lock file left unlocked: its export died
    seen_during_build: list[list[Path]] = []

    def build(folder: Path) -> None:
        seen_during_build.append(versions.remove_stale_temporaries(base))  # another export's cleanup, mid-write
        (folder / "saved_model.pb").write_bytes(b"model")

    assert versions.write_version(base, None, build) == base / "4"  # 3 was still claimed when it picked
    assert seen_during_build == [[killed]] and not killed.exists()


@pytest.mark.slow
def test_two_export_processes_started_together_write_two_versions(trained_run, tmp_path):
    base = tmp_path / "models" / "tfcolor"
    command = [sys.executable, "-m", "export", "--run", str(trained_run), "--output", str(base)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], results
    assert versions.existing_versions(base) == [1, 2]
    assert all((base / v / "saved_model.pb").is_file() for v in ("1", "2")) and not list(base.glob(".tmp-*"))


def test_client_keeps_relative_folders_and_refuses_collisions_before_sending_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.jpg", "sub/a.png", "b.jpg", "b.png"):
        save_image(tmp_path / name, photo_crops(1)[0])
    out = tmp_path / "out"
    assert client.output_paths([Path("a.jpg"), Path("sub/a.png")], out) == {
        Path("a.jpg"): out / "a.png", Path("sub/a.png"): out / "sub" / "a.png"}
    # No server listens on this port: a request would fail with "cannot reach the server".
    code = client.main(["a.jpg", "b.jpg", "b.png", "--out", str(out), "--url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 1 and "nothing was written: b.jpg and b.png would both be written to" in err
    assert "cannot reach" not in err and not out.exists()
    out.mkdir()
    (out / "a.png").write_bytes(b"earlier result")
    assert client.main(["a.jpg", "--out", str(out), "--url", "http://127.0.0.1:9"]) == 1
    assert "exists already (--overwrite replaces it)" in capsys.readouterr().err
    assert (out / "a.png").read_bytes() == b"earlier result"
