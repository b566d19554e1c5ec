"""Warm starts (`--init-from`): a new run that begins with another run's weights and none of its other state.

Progressive training trains cheaply at a small size first, then continues at a larger one. The
networks are fully convolutional, so the same tables give the same weights at every image size:

    python -m tfcolor.train --image-size 64 --checkpoints-path runs/p64
    python -m tfcolor.train --image-size 128 --init-from runs/p64 --checkpoints-path runs/p128

What the new run takes from the source checkpoint (`RUN`: its newest; or `RUN/checkpoints/ckpt-N`):
its generator; the moving average of the generator's weights where both runs keep one, so the new run
colorizes at step 0 as the source does (where only the new run keeps one, it starts at the loaded
generator; either way its warm-up restarts with the step counter, decay (1 + t) / (10 + t), so it
follows the new generator within tens of batches); the confidence network where both have one; the
discriminator only with `--init-discriminator`. What starts fresh: both optimizers (their moments
belong to the source's last steps at another size), the step counter and with it the learning-rate
schedule, the dropout layers' random state, and every network not taken.

Refused before anything is built or written, with a `ConfigError` naming each field and both values:
networks whose tables differ (the generator's filters and dropout, since a dropout layer exists only
where its rate is above 0 and a checkpoint finds weights by layer position; the discriminator's
tables when it is taken) or another colour space. A weight of another shape met while restoring is
refused too, naming the variable. `config.json` records the checkpoint taken (an absolute path) and
the networks (`train.init_from`, `train.init_parts`).

A run with checkpoints of its own resumes from them and ignores `--init-from`, keeping the warm start
it recorded: a preempted progressive run, rerun with its first command, continues where it stopped
even when the source run has trained on since (its newest checkpoint is no longer the one taken).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from tfcolor.config import ConfigError, RunConfig, TrainConfig
from tfcolor.config.run_layout import RunError, load_config
from tfcolor.config.schema import label
from tfcolor.models.colorizer import Colorizer
from tfcolor.models.restoring import find_checkpoint, restore_networks, saved_networks

# The fields that shape the weights of the networks a warm start takes.
GENERATOR_FIELDS = ("data.color_space", "model.generator_filters", "model.generator_dropout")
DISCRIMINATOR_FIELDS = ("model.discriminator_filters", "model.discriminator_strides")
_TABLES = "set by --network, or --base-filters and --depth"


@dataclasses.dataclass(frozen=True)
class WarmStart:
    """The checkpoint a new run starts from (an absolute prefix) and the networks it takes from it."""

    checkpoint: str
    parts: tuple[str, ...]

    def describe(self, config: RunConfig) -> str:
        """One line for the log: what was taken and what starts fresh."""
        fresh = [name for name, kept in (("discriminator", config.model.model == "gan"),
                                         ("confidence", config.model.confidence)) if kept and name not in self.parts]
        average = ("; the moving average starts at the loaded generator"
                   if config.train.ema_decay and "ema_generator" not in self.parts else "")
        return (f"Starting from {self.checkpoint}: took {', '.join(self.parts)}; fresh: "
                f"{', '.join([*fresh, 'the optimizers', 'the step counter and learning-rate schedule'])}{average}.")


def _with_init(config: RunConfig, init_from: str | None, parts: tuple[str, ...], discriminator: bool) -> RunConfig:
    train = dataclasses.replace(config.train, init_from=init_from, init_parts=parts, init_discriminator=discriminator)
    return dataclasses.replace(config, train=train)


def _shown(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _named(field: str) -> str:
    return label(field) if field.startswith("data.") else f"{field} ({_TABLES})"


def find_source(config: RunConfig) -> WarmStart:
    """The checkpoint `config.train.init_from` names and the networks to take from it, checked against
    `config`'s networks before anything is built or written.

    Raises:
        RunError: no run with a checkpoint there nor a checkpoint, or one that holds no generator.
        ConfigError: the networks to take differ from `config`'s (each field named with both values), or
            `--init-discriminator` names a checkpoint without a discriminator.
    """
    settings = config.train
    try:
        run_dir, checkpoint = find_checkpoint(settings.init_from)
        source = load_config(run_dir)
    except (RunError, ConfigError) as error:
        raise RunError(f"--init-from {settings.init_from}: {error}") from None
    fields = GENERATOR_FIELDS + (DISCRIMINATOR_FIELDS if settings.init_discriminator else ())
    theirs, ours = source.flat(), config.flat()
    differing = [f"{_named(field)}: {_shown(theirs[field])} there, {_shown(ours[field])} here"
                 for field in fields if theirs[field] != ours[field]]
    if differing:
        raise ConfigError(f"--init-from {settings.init_from}: its networks are not this run's, so its weights "
                          f"cannot start it: {'; '.join(differing)}. A warm start needs the same network tables and "
                          f"colour space (the image size may differ).")
    saved = saved_networks(checkpoint)
    if "generator" not in saved:
        raise RunError(f"--init-from {settings.init_from}: {checkpoint} holds no generator to start from.")
    if settings.init_discriminator and "discriminator" not in saved:
        raise ConfigError(f"{label('train.init_discriminator')}: {checkpoint} holds no discriminator (a "
                          f"{source.model.model} run); leave it off to take the generator alone.")
    parts = ["generator"]
    if settings.ema_decay and "ema_generator" in saved:
        parts.append("ema_generator")
    if config.model.confidence and "confidence" in saved:
        parts.append("confidence")
    if settings.init_discriminator:
        parts.append("discriminator")
    return WarmStart(str(Path(checkpoint).resolve()), tuple(parts))


def initialise(model: Colorizer, warm: WarmStart) -> None:
    """Load `warm`'s networks into a freshly built `model`, leaving its optimizers and step counter as built;
    its moving average, where it keeps one the source's checkpoint does not give, starts at the loaded generator.

    Raises:
        ConfigError: the checkpoint lacks a weight of these networks or holds one of another shape (named).
    """
    try:
        restore_networks({part: getattr(model, part) for part in warm.parts}, warm.checkpoint)
    except (AssertionError, ValueError) as error:
        reason = str(error).splitlines()[0][:400]
        raise ConfigError(f"--init-from {warm.checkpoint}: its weights do not fit this run's networks: {reason}") from None
    if model.ema_generator is not None and "ema_generator" not in warm.parts:
        model.reset_ema()


def plan(config: RunConfig, saved: RunConfig | None, resumes: bool) -> tuple[RunConfig, WarmStart | None, str | None]:
    """The config to train and record, the warm start to make (None: none), and a line for the log.

    A run that `resumes` from checkpoints of its own keeps the warm start its `saved` config records (or
    none), whatever `--init-from` says now; the line says it was ignored. A new run (or one started over)
    with `--init-from` records the checkpoint `find_source` resolves and the networks it takes.

    Raises:
        RunError, ConfigError: as `find_source`.
    """
    if resumes:
        recorded = saved.train if saved is not None else TrainConfig()
        kept = _with_init(config, recorded.init_from, recorded.init_parts, recorded.init_discriminator)
        if not config.train.init_from:
            return kept, None, None
        started = f" (it started from {recorded.init_from})" if recorded.init_from else ""
        return kept, None, f"--init-from {config.train.init_from} ignored: the run resumes from its own checkpoints{started}."
    if not config.train.init_from:
        return _with_init(config, None, (), False), None, None
    warm = find_source(config)
    return _with_init(config, warm.checkpoint, warm.parts, config.train.init_discriminator), warm, warm.describe(config)
