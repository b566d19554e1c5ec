"""Checkpoints a real disk damages: a run never silently restarts, and nothing is deleted."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import TINY_TRAIN_ARGS
from tfcolor import train
from tfcolor.config import run_layout
from tfcolor.training import checkpoints


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
