"""Stopping for a signal without losing the batches since the last checkpoint.

SIGTERM is what `docker stop`, a Kubernetes eviction and a preemptible VM's shutdown send before they
kill a process; SIGINT is Ctrl-C. Either one, while training, lets the current batch finish; the
checkpoint saver then writes the step reached and training raises `TrainingPreempted`, so a rerun of
the same command resumes there. A signal that comes while the run is still starting (reading the
photos, building the model) stops it after its first batch. A second signal ends the process at once
(exit 128 + signal), as a user pressing Ctrl-C twice expects. Handlers are installed for the duration
of `train()` only (`StopOnSignal.catching`), and only from the main thread (Python delivers signals
there alone).

Under a multi-worker cluster every worker must take part in a save, so there the first worker that
is signalled stops at the next batch and the others follow at the same step (`stop_requested` is
combined over the workers at every batch, an all-reduce of one number).
"""
from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import keras
import tensorflow as tf

from tfcolor.training import runtime

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# sysexits' EX_TEMPFAIL: "a temporary failure; the user is invited to retry" (rerunning resumes).
EXIT_PREEMPTED = 75


class TrainingPreempted(RuntimeError):
    """Training stopped for a signal after saving; the message names the signal, the step and the checkpoint."""


class StopOnSignal(keras.callbacks.Callback):
    """Turns the first SIGTERM or SIGINT into `stop_training` after the current batch; a second one exits."""

    def __init__(self, strategy: tf.distribute.Strategy):
        super().__init__()
        self.strategy = strategy
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.received).name if self.received is not None else ""

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            os._exit(128 + signum)
        self.received = signum

    @contextmanager
    def catching(self) -> Iterator[StopOnSignal]:
        """Catch SIGTERM and SIGINT inside the block (from the main thread); the previous handlers after it."""
        if threading.current_thread() is threading.main_thread():
            for stop_signal in STOP_SIGNALS:
                self._previous[stop_signal] = signal.signal(stop_signal, self._on_signal)
        try:
            yield self
        finally:
            for stop_signal, handler in self._previous.items():
                signal.signal(stop_signal, handler)
            self._previous.clear()

    def on_train_batch_end(self, batch, logs=None):
        if self._stop_requested():
            self.model.stop_training = True

    def _stop_requested(self) -> bool:
        local = self.received is not None
        if runtime.workers(self.strategy) == 1:
            return local
        # Every worker must stop at the same batch to save together: any worker's signal stops all.
        flags = self.strategy.run(lambda: tf.constant(1.0 if local else 0.0))
        if float(self.strategy.reduce(tf.distribute.ReduceOp.SUM, flags, axis=None)) == 0:
            return False
        if self.received is None:
            self.received = signal.SIGTERM  # a peer was signalled; this worker stops with it
        return True
