"""The dev server's limits and the protocol constants that its server and handler share.

Standard library only, so both `serving.devserver` and `serving.handler` import it without
importing each other.
"""
from __future__ import annotations

import dataclasses

METRICS_PATH = "/monitoring/prometheus/metrics"  # as serving/monitoring.config sets it for TF-Serving
RETRY_AFTER_SECONDS = 1
# Oversized bodies are drained up to this multiple of the limit before answering, beyond it cut off.
DISCARD_LIMIT_FACTOR = 4


@dataclasses.dataclass(frozen=True)
class ServerLimits:
    """Everything that bounds the dev server's work and memory; each field is the flag of the same name.

    Args:
        max_request_bytes: larger request bodies are refused with HTTP 400.
        max_buffered_bytes: request bodies, and the most their JSON can parse into
            (`serving.request_cost`), held in memory at once; a body that would pass it gets HTTP 503
            before it is read (400 if it alone would). At least `max_request_bytes`.
        max_decoded_pixels: pixels (height x width, from the images' headers) of the requests being
            decoded and colorized at once; a request waits for them like for a model slot, then gets
            HTTP 503; one needing more than all of them gets HTTP 400. At ~72 bytes a pixel at the
            peak (measured, README), this is what bounds the server's memory.
        max_concurrent_requests: model calls that run at once (TensorFlow spreads each over the cores).
        max_queue: requests that may wait for a model call; beyond, HTTP 503 with `Retry-After`.
        request_timeout_s: a request (line, headers and body) must arrive within this, or the
            connection is closed (HTTP 408 when the body was late); also the longest wait in the queue.
        max_connections: open connections; beyond, a new one gets HTTP 503 and is closed.
    """

    max_request_bytes: int = 32 * 1024 * 1024
    max_buffered_bytes: int = 512 * 1024 * 1024
    max_decoded_pixels: int = 64_000_000
    max_concurrent_requests: int = 4
    max_queue: int = 64
    request_timeout_s: float = 60.0
    max_connections: int = 512

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value < 0 or (value == 0 and field.name != "max_queue"):
                raise ValueError(f"--{field.name} must be positive, got {value}")
        if self.max_buffered_bytes < self.max_request_bytes:
            raise ValueError(f"--max_buffered_bytes ({self.max_buffered_bytes}) must be at least "
                             f"--max_request_bytes ({self.max_request_bytes})")
