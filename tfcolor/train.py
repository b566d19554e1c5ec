"""`python -m tfcolor.train`: train the colorization GAN (or the U-Net baseline) and resume it.

The seed's option names and defaults; each flag sets one `RunConfig` field. Re-running with the
same `--checkpoints-path` resumes from the newest checkpoint (weights, optimizers and step).
"""
from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import keras
import tensorflow as tf

from tfcolor import callbacks, data, flags, gan, runs
from tfcolor.config import RunConfig


def select_devices(gpu_ids: str | None) -> None:
    if gpu_ids is None:
        return
    gpus = tf.config.list_physical_devices("GPU")
    wanted = [int(i) for i in gpu_ids.split(",") if i.strip() and int(i) >= 0]
    tf.config.set_visible_devices([gpus[i] for i in wanted if i < len(gpus)], "GPU")


def use_xla(setting: str) -> bool:
    if setting == "auto":
        return bool(tf.config.list_physical_devices("GPU"))
    return setting == "on"


def _hparams(config: RunConfig) -> dict[str, object]:
    flat = {key: value for key, value in flags.flatten(config).items() if value is not None}
    return {key: value if isinstance(value, (bool, int, float, str)) else str(value) for key, value in flat.items()}


def _sample_batch(pipelines: data.Pipelines, size: int) -> tuple[tf.Tensor, tf.Tensor] | None:
    """A fixed batch to show in sample grids: validation images when there are any."""
    for source in (pipelines.validation, pipelines.train):
        if source is not None:
            for batch in source.unbatch().batch(size).take(1):
                return batch
    return None


def train(config: RunConfig, run_dir: Path, report=print) -> int:
    """Train (or resume) the run in `run_dir`; returns the CLI exit code (0 done, 1 failed)."""
    keras.utils.set_random_seed(config.train.seed)
    settings = config.train
    pipelines = data.make_pipelines(config.data, settings.batch_size, settings.seed, validate=settings.validate)
    if not any(True for _ in pipelines.train.take(1)):
        counts = pipelines.stats.as_dict()
        report(f"error: no usable training images ({counts['corrupt']} corrupt, {counts['grayscale']} "
               f"grayscale of {counts['files']} read); check --dataset-path.")
        return 1
    model = gan.build_colorizer(config, jit_compile=use_xla(settings.jit_compile))
    run_dir.mkdir(parents=True, exist_ok=True)
    manager = runs.checkpoint_manager(model, run_dir)
    if manager.latest_checkpoint:
        runs.checkpoint_for(model).restore(manager.latest_checkpoint).assert_existing_objects_matched()
        report(f"Resuming from step {callbacks.trained_batches(model)} ({manager.latest_checkpoint}).")
    (run_dir / runs.CONFIG_FILE).write_text(config.to_json(), encoding="utf-8")

    steps_per_epoch = pipelines.steps_per_epoch
    total_steps = settings.epochs * steps_per_epoch
    if settings.max_steps:
        total_steps = min(total_steps, settings.max_steps)
    saver = callbacks.CheckpointSaver(manager, settings.save_interval, enabled=settings.save)
    writer = tf.summary.create_file_writer(str(run_dir / runs.LOGS_DIR / "train"))
    callback_list = [
        saver,
        callbacks.StopAtStep(total_steps),
        callbacks.TensorBoardLogger(
            writer, settings.log_interval,
            _sample_batch(pipelines, settings.sample_size) if settings.sample else None,
            settings.sample_interval, run_dir / runs.SAMPLES_DIR, config.data.color_space,
            pipelines.stats, _hparams(config), report,
        ),
        keras.callbacks.TensorBoard(str(run_dir / runs.LOGS_DIR), update_freq="epoch", write_graph=False),
    ]
    if settings.log:
        callback_list.append(keras.callbacks.CSVLogger(str(run_dir / runs.CSV_LOG_FILE), append=True))

    step = callbacks.trained_batches(model)
    if step >= total_steps:
        report(f"{run_dir} is already trained to step {step}; raise --epochs or --max-steps to train further.")
    else:
        report(f"Training {config.model.model} on {config.data.dataset}: {pipelines.train_examples} images, "
               f"{steps_per_epoch} batches of {settings.batch_size} per epoch, until step {total_steps}.")
    fit = dict(
        x=pipelines.train, validation_data=pipelines.validation, validation_freq=settings.validate_interval,
        shuffle=False, callbacks=callback_list, verbose=1 if sys.stdout.isatty() else 2,
    )
    epoch, done_in_epoch = divmod(step, steps_per_epoch)
    if step < total_steps and done_in_epoch:
        # Finish the interrupted epoch with the batches it had left, then run whole epochs.
        model.fit(initial_epoch=epoch, epochs=epoch + 1,
                  steps_per_epoch=min(steps_per_epoch - done_in_epoch, total_steps - step), **fit)
        epoch += 1
    if callbacks.trained_batches(model) < total_steps and saver.nan_step is None:
        # StopAtStep ends the last epoch early when --max-steps falls inside it.
        model.fit(initial_epoch=epoch, epochs=math.ceil(total_steps / steps_per_epoch),
                  steps_per_epoch=steps_per_epoch, **fit)
    return _finish(run_dir, manager, saver, report)


def _finish(run_dir: Path, manager, saver: callbacks.CheckpointSaver, report) -> int:
    if saver.nan_step is not None:
        report(f"error: a loss became NaN at step {saver.nan_step}; training stopped. "
               f"Last good checkpoint: {manager.latest_checkpoint or 'none (none was saved before)'}.")
        return 1
    report(f"Checkpoints: {run_dir / runs.CHECKPOINTS_DIR} (latest {manager.latest_checkpoint})")
    report(f"Samples:     {run_dir / runs.SAMPLES_DIR}")
    report(f"TensorBoard: tensorboard --logdir {run_dir / runs.LOGS_DIR}")
    return 0


def main(argv: list[str] | None = None) -> int:
    # The validation set's length is unknown until read (skipped images); its end is not a problem.
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    parser = flags.build_parser()
    args = parser.parse_args(argv)
    try:
        config, run_dir = flags.resolve_config(args)
    except (ValueError, runs.RunError) as error:
        parser.error(str(error))
    select_devices(args.gpu_ids)
    try:
        return train(config, run_dir)
    except data.DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
