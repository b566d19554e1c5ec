"""Training state on disk: what a checkpoint holds, saving it, and which one a run resumes from.

A checkpoint holds the networks (and the generator's moving average), their optimizers, the step
counter and the dropout layers' random state. It is written every `--save-interval` batches while
every value is finite, so the newest checkpoint is always a good one.

A run that holds checkpoints never silently starts over. TensorFlow ignores a checkpoint state file
it cannot parse (a warning, then "no checkpoint"), so a half-written `checkpoints/checkpoint` used to
restart training from step 0 beside the trained progress. Here a run directory with checkpoint files
resumes from the newest one, or stops with `ResumeError` naming the file and the two ways on:
`--resume-from ckpt-N` (a readable one) or `--restart`. Neither deletes anything: checkpoints set
aside are moved into a dated folder.
"""
from __future__ import annotations

import datetime
import math
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import keras
import tensorflow as tf

from tfcolor.config import RunConfig
from tfcolor.config.run_layout import CHECKPOINTS_DIR, CHECKPOINTS_KEPT, STATE_FILE, load_config
from tfcolor.models import optimizers
from tfcolor.models.colorizer import Colorizer
from tfcolor.models.factory import build_colorizer
from tfcolor.models.restoring import find_checkpoint, saved_networks
from tfcolor.training import runtime

_PREFIX = re.compile(r"^ckpt-(\d+)\.index$")


def checkpoint_for(model: Colorizer, with_average: bool = True, with_rng: bool = True) -> tf.train.Checkpoint:
    """Everything training state needs: the networks (and the generator's moving average), their
    optimizers, the step counter and the dropout layers' random state.

    Named explicitly rather than through the Keras model's own attributes, so the layout stays the
    same whatever wraps the optimizers (loss scaling under mixed_float16): a run resumes under any
    precision, and checkpoints of earlier versions (`model/generator/...`) still restore. The
    random state lets a resumed run draw the dropout masks an uninterrupted one would.
    """
    names = ("generator", "discriminator", "confidence") + (("ema_generator",) if with_average else ())
    networks = {name: getattr(model, name) for name in names if getattr(model, name, None) is not None}
    tracked = {name: optimizers.checkpointed(getattr(model, name))
               for name in ("g_optimizer", "d_optimizer", "c_optimizer") if getattr(model, name, None) is not None}
    if with_rng:
        tracked["dropout_rng"] = _dropout_states(model)
    state = tf.train.Checkpoint(trained_batches=model.trained_batches, **networks)
    return tf.train.Checkpoint(model=state, **tracked)


def _dropout_states(model: Colorizer) -> dict[str, object]:
    networks = [model.generator, getattr(model, "discriminator", None)]
    layers = [layer for network in networks if network is not None for layer in network.layers
              if getattr(layer, "seed_generator", None) is not None]
    return {layer.name: layer.seed_generator.state for layer in layers}


def restore(model: Colorizer, checkpoint: str) -> None:
    """Load `checkpoint` into `model`. Every object of the model must be in it, but for what earlier
    runs did not save: a moving average (then started from the restored weights) and the dropout
    random state (then as a fresh run's)."""
    with_average = "ema_generator" in saved_networks(checkpoint)
    with_rng = any(name.startswith("dropout_rng/") for name, _ in tf.train.list_variables(checkpoint))
    checkpoint_for(model, with_average, with_rng).restore(checkpoint).expect_partial().assert_existing_objects_matched()
    if model.ema_generator is not None and not with_average:
        model.reset_ema()


def checkpoint_manager(model: Colorizer, run_dir: str | Path) -> tf.train.CheckpointManager:
    return tf.train.CheckpointManager(checkpoint_for(model), str(Path(run_dir) / CHECKPOINTS_DIR), CHECKPOINTS_KEPT)


def trained_batches(model: keras.Model) -> int:
    return int(model.trained_batches.numpy())


def _weights_finite(model: keras.Model) -> bool:
    return all(bool(tf.reduce_all(tf.math.is_finite(v))) for v in model.trainable_variables)


class CheckpointSaver(keras.callbacks.Callback):
    """Saves every `interval` batches and when training ends; stops training on a non-finite loss.

    A checkpoint is only written while every logged value and every weight is finite, so the newest
    checkpoint is always a good one. `nan_step` tells the caller where training broke down.
    """

    def __init__(self, manager: tf.train.CheckpointManager, interval: int, enabled: bool = True):
        super().__init__()
        self.manager = manager
        self.interval = interval
        self.enabled = enabled
        self.nan_step: int | None = None

    def save(self) -> str | None:
        if not self.enabled or self.nan_step is not None or not _weights_finite(self.model):
            return None
        step = trained_batches(self.model)
        if self.manager.latest_checkpoint and self.manager.latest_checkpoint.endswith(f"-{step}"):
            return self.manager.latest_checkpoint
        return self.manager.save(checkpoint_number=step)

    def on_train_batch_end(self, batch, logs=None):
        if any(not math.isfinite(float(value)) for value in (logs or {}).values()):
            self.nan_step = trained_batches(self.model)
            self.model.stop_training = True
            return
        if self.interval and trained_batches(self.model) % self.interval == 0:
            self.save()

    def on_train_end(self, logs=None):
        self.save()


@contextmanager
def checkpoint_dir(run_dir: Path, strategy: tf.distribute.Strategy) -> Iterator[Path]:
    """Where this process saves checkpoints: the run's own folder for the chief, a temporary folder
    (deleted on leaving the block) for the other workers."""
    if runtime.is_chief(strategy):
        yield run_dir
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"tfcolor-{runtime.worker_name(strategy)}-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def load_trained_model(run_or_checkpoint: str | Path) -> tuple[RunConfig, Colorizer]:
    """The run's whole training state (networks, optimizers, step) from its newest or the named checkpoint,
    for inspecting or continuing a run from Python; inference needs only `tfcolor.models.restoring`."""
    found_dir, checkpoint = find_checkpoint(run_or_checkpoint)
    config = load_config(found_dir)
    model = build_colorizer(config)
    restore(model, checkpoint)
    return config, model


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


def has_checkpoints(run_dir: Path) -> bool:
    """Whether the run holds checkpoints of its own (files or a state file): then it resumes, never starts over."""
    checkpoints = run_dir / CHECKPOINTS_DIR
    return bool(checkpoint_numbers(checkpoints)) or (checkpoints / STATE_FILE).exists()


def restore_newest(model: Colorizer, run_dir: Path) -> str | None:
    """Restore the newest checkpoint of `run_dir` into `model`; None when the run has none yet.

    Raises:
        ResumeError: checkpoint files exist, but the state file or the newest checkpoint is unreadable.
    """
    checkpoints = run_dir / CHECKPOINTS_DIR
    if not has_checkpoints(run_dir):
        return None
    try:
        newest = _newest_in_state(checkpoints)
        reason = unreadable_reason(newest)
        if reason is None:
            try:
                restore(model, newest)
                return newest
            except (tf.errors.OpError, ValueError, IndexError, AssertionError) as error:
                reason = f"{type(error).__name__}: {error}"
        raise ResumeError(f"cannot resume from {newest} ({reason})")
    except ResumeError as error:
        raise ResumeError(f"{run_dir}: {error}.\n{_choices(checkpoints)}") from None


def resume_from(model: Colorizer, run_dir: Path, name: str, set_aside_later: bool = True) -> str:
    """Restore the named checkpoint (`ckpt-N`) and make it the run's newest: later checkpoints and the
    old state file are moved into `checkpoints/aside-<time>/`, so training continues from it
    (`set_aside_later=False`: restore only, for the workers of a cluster that are not the chief).

    Raises:
        ResumeError: no such checkpoint, or it cannot be read in full.
    """
    checkpoints = run_dir / CHECKPOINTS_DIR
    match = re.fullmatch(r"(?:.*/)?ckpt-(\d+)", name)
    number = int(match[1]) if match else None
    if number not in checkpoint_numbers(checkpoints):
        known = ", ".join(f"ckpt-{n}" for n in checkpoint_numbers(checkpoints)) or "none"
        raise ResumeError(f"--resume-from {name}: no such checkpoint in {checkpoints} (there: {known}).")
    prefix = str(checkpoints / f"ckpt-{number}")
    reason = unreadable_reason(prefix)
    if reason:
        raise ResumeError(f"--resume-from {name}: {prefix} cannot be read ({reason}).\n{_choices(checkpoints)}")
    restore(model, prefix)
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
    checkpoints = run_dir / CHECKPOINTS_DIR
    if not checkpoints.exists():
        return None
    aside = run_dir / f"{CHECKPOINTS_DIR}.aside-{_stamp()}"
    checkpoints.rename(aside)
    return aside


def will_resume(run_dir: Path, from_checkpoint: str | None, start_over: bool) -> bool:
    """Whether `restore_for_training` will continue the run from a checkpoint of its own, known before any is read."""
    return not start_over and (bool(from_checkpoint) or has_checkpoints(run_dir))


def restore_for_training(model: Colorizer, run_dir: Path, from_checkpoint: str | None, start_over: bool,
                         chief: bool, report: Callable[[str], None]) -> str | None:
    """The checkpoint the run continues from (None: step 0): the newest, `--resume-from`'s, or none with
    `--restart`. Only the chief moves checkpoints aside."""
    if start_over:
        if chief and (aside := restart(run_dir)):
            report(f"Starting over from step 0; the old checkpoints are in {aside}.")
        return None
    if from_checkpoint:
        return resume_from(model, run_dir, from_checkpoint, set_aside_later=chief)
    return restore_newest(model, run_dir)
