"""Which checkpoint a training run resumes from. A run that holds checkpoints never silently starts over.

TensorFlow ignores a checkpoint state file it cannot parse (a warning, then "no checkpoint"), so a
half-written `checkpoints/checkpoint` used to restart training from step 0 beside the trained
progress. Here a run directory with checkpoint files resumes from the newest one, or stops with
`ResumeError` naming the file and the two ways on: `--resume-from ckpt-N` (a readable one) or
`--restart`. Neither deletes anything: checkpoints set aside are moved into a dated folder.
"""
from __future__ import annotations

import datetime
import re
import shutil
from pathlib import Path

import tensorflow as tf

from tfcolor import gan, runs

STATE_FILE = "checkpoint"
_PREFIX = re.compile(r"^ckpt-(\d+)\.index$")


class ResumeError(RuntimeError):
    """The run's checkpoints cannot be resumed as they are; the message says why and what to do."""


def checkpoint_numbers(checkpoints: Path) -> list[int]:
    """The N of every `ckpt-N` with an index file in `checkpoints`, ascending."""
    if not checkpoints.is_dir():
        return []
    return sorted(int(m[1]) for p in checkpoints.iterdir() if (m := _PREFIX.match(p.name)))


def unreadable_reason(prefix: str) -> str | None:
    """Why the checkpoint `prefix` cannot be read in full (bad index, truncated data), or None."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError, OSError) as error:
        return f"{type(error).__name__}: {getattr(error, 'message', None) or error}"
    return None


def _newest_in_state(checkpoints: Path) -> str | None:
    """The newest checkpoint the state file names; ResumeError when the file is unreadable or empty."""
    state_file = checkpoints / STATE_FILE
    try:
        state = tf.train.get_checkpoint_state(str(checkpoints))
    except ValueError:
        state = None
    if not state_file.exists():
        raise ResumeError(f"{state_file}, the checkpoint state file, is missing")
    if state is None or not state.model_checkpoint_path:
        raise ResumeError(f"{state_file} is not a readable checkpoint state file (empty, or half-written)")
    return state.model_checkpoint_path


def _stamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")


def _choices(checkpoints: Path) -> str:
    readable = [f"ckpt-{n}" for n in reversed(checkpoint_numbers(checkpoints))
                if unreadable_reason(str(checkpoints / f"ckpt-{n}")) is None]
    fallback = (f"resume from the newest readable checkpoint with --resume-from {readable[0]} "
                f"(readable: {', '.join(readable)}; newer ones are moved aside, not deleted)"
                if readable else "no checkpoint here can be read in full")
    return (f"Choose: {fallback}; or start over with --restart (moves {checkpoints} aside to "
            f"{checkpoints.name}.aside-<time>/, never deletes it). Nothing was changed.")


def restore_newest(model: gan.Colorizer, run_dir: Path) -> str | None:
    """Restore the newest checkpoint of `run_dir` into `model`; None when the run has none yet.

    Raises:
        ResumeError: checkpoint files exist, but the state file or the newest checkpoint is unreadable.
    """
    checkpoints = run_dir / runs.CHECKPOINTS_DIR
    if not checkpoint_numbers(checkpoints) and not (checkpoints / STATE_FILE).exists():
        return None
    try:
        newest = _newest_in_state(checkpoints)
        reason = unreadable_reason(newest)
        if reason is None:
            try:
                runs.restore(model, newest)
                return newest
            except (tf.errors.OpError, ValueError, IndexError, AssertionError) as error:
                reason = f"{type(error).__name__}: {error}"
        raise ResumeError(f"cannot resume from {newest} ({reason})")
    except ResumeError as error:
        raise ResumeError(f"{run_dir}: {error}.\n{_choices(checkpoints)}") from None


def resume_from(model: gan.Colorizer, run_dir: Path, name: str, set_aside_later: bool = True) -> str:
    """Restore the named checkpoint (`ckpt-N`) and make it the run's newest: later checkpoints and the
    old state file are moved into `checkpoints/aside-<time>/`, so training continues from it
    (`set_aside_later=False`: restore only, for the workers of a cluster that are not the chief).

    Raises:
        ResumeError: no such checkpoint, or it cannot be read in full.
    """
    checkpoints = run_dir / runs.CHECKPOINTS_DIR
    match = re.fullmatch(r"(?:.*/)?ckpt-(\d+)", name)
    number = int(match[1]) if match else None
    if number not in checkpoint_numbers(checkpoints):
        known = ", ".join(f"ckpt-{n}" for n in checkpoint_numbers(checkpoints)) or "none"
        raise ResumeError(f"--resume-from {name}: no such checkpoint in {checkpoints} (there: {known}).")
    prefix = str(checkpoints / f"ckpt-{number}")
    reason = unreadable_reason(prefix)
    if reason:
        raise ResumeError(f"--resume-from {name}: {prefix} cannot be read ({reason}).\n{_choices(checkpoints)}")
    runs.restore(model, prefix)
    if not set_aside_later:
        return prefix
    aside = checkpoints / f"aside-{_stamp()}"
    later = [p for p in checkpoints.iterdir()
             if p.name == STATE_FILE or ((m := re.match(r"^ckpt-(\d+)\.", p.name)) and int(m[1]) > number)]
    aside.mkdir()
    for path in later:
        shutil.move(str(path), str(aside / path.name))
    kept = [str(checkpoints / f"ckpt-{n}") for n in checkpoint_numbers(checkpoints)]
    tf.compat.v1.train.update_checkpoint_state(str(checkpoints), prefix, kept)
    return prefix


def restart(run_dir: Path) -> Path | None:
    """Move the run's checkpoints aside (`checkpoints.aside-<time>/`) so training starts from step 0."""
    checkpoints = run_dir / runs.CHECKPOINTS_DIR
    if not checkpoints.exists():
        return None
    aside = run_dir / f"{runs.CHECKPOINTS_DIR}.aside-{_stamp()}"
    checkpoints.rename(aside)
    return aside
