"""Admission control for model calls: a bounded number run, a bounded queue waits, the rest are refused.

Like TF-Serving's batch scheduler (`num_batch_threads`, `max_enqueued_batches`), a burst is queued
up to a limit and refused beyond it with UNAVAILABLE (HTTP 503 and `Retry-After`), so an overloaded
server answers at once instead of piling up work it cannot finish. The connection's own thread runs
the model once it holds one of the `max_concurrent` slots: a pool of workers without a hand-off.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class Overloaded(RuntimeError):
    """Every model slot is busy and the queue is full, or a queued request waited too long."""


class Admission:
    """At most `max_concurrent` model calls at once; up to `max_queue` more wait, each at most `queue_timeout_s`.

    Args:
        max_concurrent: model calls that run at the same time (TensorFlow spreads each over the cores).
        max_queue: requests that may wait for a slot; 0 refuses whatever finds every slot busy.
        queue_timeout_s: a queued request still without a slot after this long is refused.
    """

    def __init__(self, max_concurrent: int, max_queue: int, queue_timeout_s: float):
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._lock = threading.Lock()
        self.waiting = 0
        self.running = 0

    @contextlib.contextmanager
    def slot(self, wait_s: float | None = None) -> Iterator[None]:
        """Hold one model slot for the `with` block, waiting at most `wait_s` in the queue (None: `queue_timeout_s`;
        a gRPC call passes what its deadline leaves).

        Raises:
            Overloaded: no slot free and the queue full, or none freed within the wait.
        """
        wait_s = self.queue_timeout_s if wait_s is None else max(0.0, wait_s)
        with self._lock:
            if self.running + self.waiting >= self.max_concurrent + self.max_queue:
                raise Overloaded(f"Server overloaded: {self.running} requests running and {self.waiting} queued "
                                 f"(limits: {self.max_concurrent} and {self.max_queue}); retry later")
            self.waiting += 1
        acquired = self._slots.acquire(timeout=wait_s)
        with self._lock:
            self.waiting -= 1
            self.running += acquired
        if not acquired:
            raise Overloaded(f"Server overloaded: no model worker free within {wait_s:g} s; retry later")
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1
            self._slots.release()


class TooLarge(ValueError):
    """A request needs more of a budget than the whole budget: no retry can help (HTTP 400)."""


class Budget:
    """A quantity held by the requests in progress (bytes of bodies, decoded pixels) and its limit.

    A reservation that does not fit waits up to `wait_s` for others to release theirs (the queue, as
    for model slots), then is refused (Overloaded); one larger than the whole limit is refused at once
    (TooLarge), so many large requests at once cannot exhaust the server's memory.

    Args:
        limit: the most held at once.
        unit: what is counted, for the messages ("bytes of request bodies", "decoded pixels").
    """

    def __init__(self, limit: int, unit: str):
        self.limit = limit
        self.unit = unit
        self.held = 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def reserve(self, amount: int, wait_s: float = 0.0) -> Iterator[None]:
        """Hold `amount` of the budget for the `with` block.

        Raises:
            TooLarge: `amount` is over the whole limit.
            Overloaded: the requests in progress leave less than `amount`, and did so for `wait_s`.
        """
        if amount > self.limit:
            raise TooLarge(f"Request needs {amount} {self.unit}, over this server's limit of {self.limit}")
        with self._changed:
            if not self._changed.wait_for(lambda: self.held + amount <= self.limit, timeout=wait_s):
                raise Overloaded(f"Server overloaded: {self.held} {self.unit} held by requests in progress, "
                                 f"{amount} more would pass its limit of {self.limit}; retry later")
            self.held += amount
        try:
            yield
        finally:
            with self._changed:
                self.held -= amount
                self._changed.notify_all()
