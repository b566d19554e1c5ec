"""The training loop: a run directory trained (or resumed) to its config's epochs or max_steps.

`train(config, run_dir)` builds the pipelines and the model under the run's strategy, restores the
checkpoint it continues from (or, for a new run, the networks `--init-from` names), and fits epoch
by epoch, so a resumed run reads the batches an uninterrupted one would. `python -m tfcolor.train`
is the command line over it.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import keras
import tensorflow as tf

from tfcolor.config import ConfigError, RunConfig, incompatible_changes
from tfcolor.config import run_layout as layout
from tfcolor.data.pipelines import Pipelines, make_pipelines
from tfcolor.data.skips import DatasetError, describe_skipped
from tfcolor.models.colorizer import Colorizer
from tfcolor.models.factory import build_colorizer
from tfcolor.training import callbacks, checkpoints, preemption, runtime, warm_start


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the last good checkpoint."""


def _hparams(config: RunConfig) -> dict[str, object]:
    flat = {key: value for key, value in config.flat().items() if value is not None}
    return {key: value if isinstance(value, (bool, int, float, str)) else str(value) for key, value in flat.items()}


def _sample_batch(pipelines: Pipelines, size: int) -> tuple[tf.Tensor, tf.Tensor] | None:
    """A fixed batch to show in sample grids: validation images when there are any."""
    for source in (pipelines.validation, pipelines.train):
        if source is not None:
            for batch in source.unbatch().batch(size).take(1):
                return batch
    return None


def _check_resumable(config: RunConfig, run_dir: Path) -> RunConfig | None:
    """The run's saved config (None for a new run), when `config` describes the same model."""
    if not (run_dir / layout.CONFIG_FILE).is_file():
        return None
    saved = layout.load_config(run_dir)
    changed = incompatible_changes(saved, config)
    if changed:
        raise ConfigError(f"{run_dir} holds a run with a different {', '.join(changed)}; "
                          f"use a new --checkpoints-path for a new model.")
    return saved


def _callbacks(config: RunConfig, run_dir: Path, pipelines: Pipelines, saver: checkpoints.CheckpointSaver,
               stopper: preemption.StopOnSignal, total_steps: int, report: Callable[[str], None], chief: bool
               ) -> list[keras.callbacks.Callback]:
    """Every process saves checkpoints and stops at the same step; only the chief writes logs and samples.
    The signal handler comes before the saver, so the batch a signal arrives in is saved when training ends."""
    found = [stopper, saver, callbacks.StopAtStep(total_steps)]
    if not chief:
        return found
    settings = config.train
    writer = tf.summary.create_file_writer(str(run_dir / layout.LOGS_DIR / "train"))
    found += [
        callbacks.BatchScalars(writer=writer, interval=settings.log_interval),
        callbacks.HParamsSummary(writer=writer, hparams=_hparams(config), trial_id=run_dir.resolve().name),
        callbacks.SkippedImages(writer=writer, stats=pipelines.stats, report=report),
        callbacks.TransferGap(report=report),
        keras.callbacks.TensorBoard(str(run_dir / layout.LOGS_DIR), update_freq="epoch", write_graph=False),
    ]
    samples = _sample_batch(pipelines, settings.sample_size) if settings.sample else None
    if samples is not None:
        found.append(callbacks.SampleGrids(writer=writer, samples=samples, interval=settings.sample_interval,
                                           samples_dir=run_dir / layout.SAMPLES_DIR, color_space=config.data.color_space))
    if settings.log:
        found.append(keras.callbacks.CSVLogger(str(run_dir / layout.CSV_LOG_FILE), append=True))
    return found


def _check_replicas(config: RunConfig, strategy: tf.distribute.Strategy) -> None:
    replicas = runtime.replicas(strategy)
    if config.train.batch_size % replicas:
        raise ConfigError(f"--batch-size {config.train.batch_size} is the global batch: it must split evenly "
                          f"over the {replicas} replicas of --strategy {config.train.strategy}")


def _fit(model: Colorizer, fit: dict, stream: Callable[[int], tf.data.Dataset], steps_per_epoch: int, step: int,
         total_steps: int, saver: checkpoints.CheckpointSaver, stopper: preemption.StopOnSignal) -> None:
    """Finish an interrupted epoch with the batches it had left, then run whole epochs to `total_steps`.
    Each part reads the training stream (`stream(step)`) from the batch it starts at, as an
    uninterrupted run would."""
    epoch, done_in_epoch = divmod(step, steps_per_epoch)
    if done_in_epoch:
        model.fit(stream(step), initial_epoch=epoch, epochs=epoch + 1,
                  steps_per_epoch=min(steps_per_epoch - done_in_epoch, total_steps - step), **fit)
        epoch += 1
    if checkpoints.trained_batches(model) < total_steps and saver.nan_step is None and stopper.received is None:
        # StopAtStep ends the last epoch early when --max-steps falls inside it.
        model.fit(stream(epoch * steps_per_epoch), initial_epoch=epoch,
                  epochs=math.ceil(total_steps / steps_per_epoch), steps_per_epoch=steps_per_epoch, **fit)


def train(config: RunConfig, run_dir: str | Path, report: Callable[[str], None] = print,
          resume_from: str | None = None, restart: bool = False,
          strategy: tf.distribute.Strategy | None = None) -> str | None:
    """Train (or resume) the run in `run_dir` until `config`'s epochs or max_steps; returns the newest checkpoint.

    It resumes from the run's newest checkpoint, or from `resume_from` (`ckpt-N`); `restart` moves
    the run's checkpoints aside and starts from step 0. A run that starts from step 0 with
    `config.train.init_from` takes that run's networks first (`tfcolor.training.warm_start`). Under
    `strategy` (default: the current one, e.g. `runtime.make_strategy(config.train.strategy)`) the
    model, its optimizers and metrics are built in its scope and `config.train.batch_size` is the
    global batch.

    Raises:
        ResumeError: the run's newest checkpoint (or its state file) cannot be read; nothing was changed.
        ConfigError: `config` is invalid, `run_dir` holds a run of another model, or `init_from`'s networks
            are not this run's; nothing was written.
        RunError: `init_from` names no run with a checkpoint, nor a checkpoint.
        DatasetError: the dataset is missing or holds no usable image.
        TrainingDiverged: a loss became NaN or infinite (the newest checkpoint is the last good one).
        TrainingPreempted: SIGTERM or SIGINT arrived; the batch it arrived in was finished and saved.
    """
    config.validate()
    run_dir = Path(run_dir)
    strategy = strategy or tf.distribute.get_strategy()
    with preemption.StopOnSignal(strategy).catching() as stopper:
        return _train(config, run_dir, report, resume_from, restart, strategy, stopper)


def _train(config: RunConfig, run_dir: Path, report: Callable[[str], None], resume_from: str | None, restart: bool,
           strategy: tf.distribute.Strategy, stopper: preemption.StopOnSignal) -> str | None:
    chief = runtime.is_chief(strategy)
    saved = _check_resumable(config, run_dir)
    _check_replicas(config, strategy)
    resumes = checkpoints.will_resume(run_dir, resume_from, restart)
    config, warm, warm_line = warm_start.plan(config, saved, resumes)
    keras.utils.set_random_seed(config.train.seed)
    settings = config.train
    pipelines = make_pipelines(config.data, settings.batch_size, settings.seed, validate=settings.validate,
                                    workers=runtime.workers(strategy))
    for name, reason in pipelines.stats.unlisted.items():
        report(f"skipped {name}: {reason}")
    if not pipelines.has_images():
        counts = pipelines.stats.as_dict()
        skipped = describe_skipped(counts) or "none skipped"
        raise DatasetError(f"no usable training images ({skipped}, of {counts['files']} read); "
                                f"check --dataset-path.")
    precision = runtime.resolve_precision(settings.precision)
    xla = runtime.use_xla(settings.jit_compile)
    runtime.without_failing_remapper()
    with strategy.scope():
        model = build_colorizer(config, jit_compile=xla, precision=precision)
        if warm is not None:  # before --restart moves anything aside, so a refusal changes nothing
            warm_start.initialise(model, warm)
        restored = checkpoints.restore_for_training(model, run_dir, resume_from, restart, chief, report)
    if chief:
        run_dir.mkdir(parents=True, exist_ok=True)
    if restored:
        report(f"Resuming from step {checkpoints.trained_batches(model)} ({restored}).")
    if warm_line:
        report(warm_line)
    with checkpoints.checkpoint_dir(run_dir, strategy) as saving_dir:
        manager = checkpoints.checkpoint_manager(model, saving_dir)
        if chief:
            layout.save_config(run_dir, config)
        _train_to_the_end(config, run_dir, pipelines, model, manager, strategy, stopper, report,
                          f"{precision}{', XLA' if xla else ''}")
        latest = manager.latest_checkpoint if chief else tf.train.latest_checkpoint(str(run_dir / layout.CHECKPOINTS_DIR))
    report(f"Checkpoints: {run_dir / layout.CHECKPOINTS_DIR} (latest {latest})")
    report(f"Samples:     {run_dir / layout.SAMPLES_DIR}")
    report(f"TensorBoard: tensorboard --logdir {run_dir / layout.LOGS_DIR}")
    return latest


def _train_to_the_end(config: RunConfig, run_dir: Path, pipelines: Pipelines, model: Colorizer,
                      manager: tf.train.CheckpointManager, strategy: tf.distribute.Strategy,
                      stopper: preemption.StopOnSignal, report: Callable[[str], None], numerics: str) -> None:
    settings = config.train
    steps_per_epoch = pipelines.steps_per_epoch
    total_steps = settings.epochs * steps_per_epoch
    if settings.max_steps:
        total_steps = min(total_steps, settings.max_steps)
    saver = checkpoints.CheckpointSaver(manager, settings.save_interval, enabled=settings.save)
    step = checkpoints.trained_batches(model)
    if step >= total_steps:
        report(f"{run_dir} is already trained to step {step}; raise --epochs or --max-steps to train further.")
        return
    chief = runtime.is_chief(strategy)
    validation, validation_steps = runtime.validation_data(strategy, pipelines, settings.batch_size)
    fit = dict(
        validation_data=validation, validation_steps=validation_steps, validation_freq=settings.validate_interval,
        shuffle=False, callbacks=_callbacks(config, run_dir, pipelines, saver, stopper, total_steps, report, chief),
        verbose=1 if sys.stdout.isatty() else 2,
    )
    replicas = runtime.replicas(strategy)
    spread = f", {replicas} replicas of {settings.batch_size // replicas}" if replicas > 1 else ""
    report(f"Training {config.model.model} on {config.data.dataset}: {pipelines.train_examples} images, "
           f"{steps_per_epoch} batches of {settings.batch_size} per epoch{spread}, until step {total_steps} "
           f"({numerics}).")
    stream = runtime.training_stream(strategy, pipelines, settings.batch_size)
    with runtime.fitting(model, strategy):
        _fit(model, fit, stream, steps_per_epoch, step, total_steps, saver, stopper)
    if stopper.received is not None and saver.nan_step is None:
        # The other workers saved into scratch folders, beside the chief's save into the run: name that one.
        saved = (manager.latest_checkpoint if chief else tf.train.latest_checkpoint(
            str(run_dir / layout.CHECKPOINTS_DIR))) if settings.save else None
        raise preemption.TrainingPreempted(
            f"{stopper.signal_name}: stopped at step {checkpoints.trained_batches(model)} after finishing its batch; "
            + (f"saved {saved}; run the same command again to resume there." if saved else
               "nothing saved (--save is off)."))
    if saver.nan_step is not None:
        raise TrainingDiverged(f"a loss became NaN or infinite at step {saver.nan_step}; training stopped. "
                               f"Last good checkpoint: {manager.latest_checkpoint or 'none (none was saved before)'}.")
