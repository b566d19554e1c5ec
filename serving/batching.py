"""Server-side batching, as TF-Serving's `--enable_batching` does from the same `batching_parameters.txt`.

Concurrent calls of one signature of one loaded version, whose inputs agree in everything but the
batch dimension, are merged into one call of up to `max_batch_size` examples: a call waits at most
`batch_timeout_micros` for batch-mates, `num_batch_threads` merged calls run at once, and beyond
`max_enqueued_batches` waiting batches a call is refused (UNAVAILABLE, as TF-Serving's "The batch
scheduling queue to which this task was submitted is full"). The exported signatures run the network
once per call on all its images, so a merged call is one batch of the network, and an image's result
does not depend on its batch-mates. A merged call that fails is run again call by call, so one
request's bad image is that request's error only.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from serving.admission import Overloaded

Inputs = dict[str, np.ndarray]
Outputs = dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
    """TF-Serving's BatchingParameters that the dev server follows (the rest of the file is checked, not used)."""

    max_batch_size: int = 64
    batch_timeout_s: float = 0.005
    max_enqueued_batches: int = 64
    num_batch_threads: int = 4

    @classmethod
    def read(cls, path: str | Path) -> BatchingParameters:
        """The parameters of a `--batching_parameters_file`, with TF-Serving's defaults for fields it leaves out.

        Raises:
            ValueError: the file does not parse as TF-Serving's BatchingParameters (text format).
        """
        from google.protobuf import text_format

        from serving.config_schema import parse_batching_parameters

        try:
            parsed = parse_batching_parameters(Path(path).read_text())
        except text_format.ParseError as error:
            raise ValueError(str(error)) from None

        def value(field: str, default):
            return getattr(parsed, field).value if parsed.HasField(field) else default

        defaults = cls()
        return cls(value("max_batch_size", defaults.max_batch_size),
                   value("batch_timeout_micros", defaults.batch_timeout_s * 1e6) / 1e6,
                   value("max_enqueued_batches", defaults.max_enqueued_batches),
                   value("num_batch_threads", defaults.num_batch_threads))


@dataclasses.dataclass(eq=False)
class _Task:
    inputs: Inputs
    run: Callable[[Inputs], Outputs]
    size: int
    queued_at: float
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    outputs: Outputs | None = None
    error: BaseException | None = None


class Batcher:
    """Merges concurrent `submit` calls with the same key (and input shapes) into one call."""

    def __init__(self, parameters: BatchingParameters):
        self.parameters = parameters
        self.calls = 0  # merged calls run, and the examples they held: their ratio is the mean batch size
        self.examples = 0
        self._queues: dict[tuple, list[_Task]] = {}
        self._changed = threading.Condition()
        self._closed = False
        self._workers = [threading.Thread(target=self._work, daemon=True, name=f"batch-{i}")
                         for i in range(parameters.num_batch_threads)]
        for worker in self._workers:
            worker.start()

    def submit(self, key: tuple, inputs: Inputs, run: Callable[[Inputs], Outputs]) -> Outputs:
        """`run(inputs)`'s outputs, computed by one `run` of this call merged with batch-mates of the same `key`
        and input shapes (every output batched along axis 0, as every input is).

        Raises:
            ValueError: the call alone has more examples than `max_batch_size` (TF-Serving's words).
            Overloaded: `max_enqueued_batches` batches are waiting already.
            whatever `run` raises for this call.
        """
        size = len(next(iter(inputs.values())))
        if size > self.parameters.max_batch_size:
            raise ValueError(f"Task size {size} is larger than maximum input batch size {self.parameters.max_batch_size}")
        key = (key, tuple((name, array.dtype.str, array.shape[1:]) for name, array in sorted(inputs.items())))
        task = _Task(inputs, run, size, time.monotonic())
        with self._changed:
            if self._waiting_batches() >= self.parameters.max_enqueued_batches:
                raise Overloaded(f"Server overloaded: {self.parameters.max_enqueued_batches} batches wait to run "
                                 "(max_enqueued_batches); retry later")
            self._queues.setdefault(key, []).append(task)
            self._changed.notify_all()
        task.done.wait()
        if task.error is not None:
            raise task.error
        return task.outputs

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _waiting_batches(self) -> int:
        limit = self.parameters.max_batch_size
        return sum(-(-sum(task.size for task in tasks) // limit) for tasks in self._queues.values())

    def _ready(self) -> tuple[tuple, list[_Task]] | None:
        """A full batch, or the oldest one whose first call has waited `batch_timeout_s`, taken off its queue."""
        now, limit = time.monotonic(), self.parameters.max_batch_size
        for key, tasks in self._queues.items():
            full = sum(task.size for task in tasks) >= limit
            if full or now - tasks[0].queued_at >= self.parameters.batch_timeout_s:
                taken, size = [], 0
                while tasks and size + tasks[0].size <= limit:
                    size += tasks[0].size
                    taken.append(tasks.pop(0))
                if not tasks:
                    del self._queues[key]
                return key, taken
        return None

    def _next_deadline(self) -> float | None:
        oldest = [tasks[0].queued_at for tasks in self._queues.values()]
        return min(oldest) + self.parameters.batch_timeout_s - time.monotonic() if oldest else None

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._closed and (batch := self._ready()) is None:
                    self._changed.wait(timeout=self._next_deadline())
                if self._closed:
                    return
            self._run_batch(*batch)

    def _run_batch(self, key: tuple, tasks: list[_Task]) -> None:
        try:
            merged = {name: np.concatenate([task.inputs[name] for task in tasks]) for name in tasks[0].inputs}
            outputs = tasks[0].run(merged)
            with self._changed:
                self.calls += 1
                self.examples += sum(task.size for task in tasks)
            start = 0
            for task in tasks:
                task.outputs = {name: value[start:start + task.size] for name, value in outputs.items()}
                start += task.size
        except BaseException as error:  # noqa: BLE001 - handed to the calls that wait for it
            if len(tasks) == 1:
                tasks[0].error = error
            else:  # one call's bad input must not fail its batch-mates: each runs alone
                for task in tasks:
                    self._run_batch(key, [task])
                return
        finally:
            for task in tasks:
                task.done.set()
