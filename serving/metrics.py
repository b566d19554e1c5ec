"""The dev server's Prometheus metrics, under TF-Serving's names where TF-Serving has the same measure.

TF-Serving (with `monitoring.config`) exports at `/monitoring/prometheus/metrics`, among others:

    :tensorflow:serving:request_count{model_name, status}               counter
    :tensorflow:serving:request_latency{model_name, API, entrypoint}    histogram, microseconds

The dev server exports those two for its REST `:predict` requests and gRPC `Predict` calls with the same
names, labels, units and buckets (`entrypoint` "REST" or "GRPC", as TF-Serving labels them), so one
dashboard reads both. What only the dev server has is named `tfcolor_devserver_*`: requests by
signature, queue depth, running model calls, open connections, the loaded version.

Written by hand rather than with `prometheus_client`: its counters always gain a `_total` suffix,
which TF-Serving's names do not have. The format is Prometheus text exposition 0.0.4.
"""
from __future__ import annotations

import bisect
import collections
import dataclasses
import threading
from collections.abc import Callable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency"
SIGNATURE_REQUEST_COUNT = "tfcolor_devserver_request_count"
# TF-Serving's buckets for request_latency: Buckets::Exponential(10, 1.8, 33), in microseconds (to ~20 min).
LATENCY_BUCKETS_US = tuple(round(10 * 1.8**i, 1) for i in range(33))

# HTTP status -> the canonical error code TF-Serving puts in the `status` label.
STATUS_CODES = {200: "OK", 400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 405: "UNIMPLEMENTED", 408: "DEADLINE_EXCEEDED",
                411: "INVALID_ARGUMENT", 500: "INTERNAL", 503: "UNAVAILABLE"}


def status_code(http_status: int) -> str:
    return STATUS_CODES.get(http_status, "UNKNOWN")


@dataclasses.dataclass
class _Histogram:
    """One latency histogram: counts per bucket (the last one above every bound, +Inf) and their sum."""

    counts: list[int] = dataclasses.field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_US) + 1))
    sum_us: float = 0.0


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class ServingMetrics:
    """Counters and the latency histograms (one per entrypoint) of one model's predict requests, plus gauges read
    on demand.

    Thread-safe: handler threads record while a scrape renders.
    """

    def __init__(self, model_name: str):
        self.model_name = model_name
        self._lock = threading.Lock()
        self._by_status: collections.Counter[str] = collections.Counter()
        self._by_signature: collections.Counter[tuple[str, str]] = collections.Counter()
        self._latency = {"REST": _Histogram()}  # by entrypoint; REST's is rendered from the start, GRPC's once used
        self._gauges: dict[str, tuple[str, Callable[[], float | None]]] = {}

    def add_gauge(self, name: str, help_text: str, read: Callable[[], float | None]) -> None:
        """Export `read()` as gauge `name` of this model at every scrape (None: no sample)."""
        self._gauges[name] = (help_text, read)

    def record(self, signature: str, http_status: int, seconds: float) -> None:
        """One answered REST `:predict` request; `signature` is "" when the request never named a valid one."""
        self.record_code(signature, status_code(http_status), seconds, "REST")

    def record_code(self, signature: str, code: str, seconds: float, entrypoint: str) -> None:
        """One answered predict request, its status a canonical error code name ("OK", "INVALID_ARGUMENT", ...),
        from `entrypoint` ("REST" or "GRPC")."""
        micros = seconds * 1e6
        with self._lock:
            self._by_status[code] += 1
            self._by_signature[signature, code] += 1
            histogram = self._latency.setdefault(entrypoint, _Histogram())
            histogram.counts[bisect.bisect_left(LATENCY_BUCKETS_US, micros)] += 1
            histogram.sum_us += micros

    def render(self) -> str:
        """All metrics in the Prometheus text format."""
        model = self.model_name
        with self._lock:
            by_status, by_signature = dict(self._by_status), dict(self._by_signature)
            latency = {entrypoint: (list(histogram.counts), histogram.sum_us)
                       for entrypoint, histogram in self._latency.items()}
        lines = [f"# HELP {REQUEST_COUNT} The total number of requests.", f"# TYPE {REQUEST_COUNT} counter"]
        lines += [f"{REQUEST_COUNT}{_labels(model_name=model, status=status)} {count}"
                  for status, count in sorted(by_status.items())]
        lines += [f"# HELP {REQUEST_LATENCY} Distribution of wall time (in microseconds) for Tensorflow Serving request.",
                  f"# TYPE {REQUEST_LATENCY} histogram"]
        for entrypoint, (bucket_counts, latency_sum) in sorted(latency.items()):
            labels = {"model_name": model, "API": "predict", "entrypoint": entrypoint}
            cumulative = 0
            for bound, count in zip([*LATENCY_BUCKETS_US, "+Inf"], bucket_counts):
                cumulative += count
                lines.append(f"{REQUEST_LATENCY}_bucket{_labels(**labels, le=str(bound))} {cumulative}")
            lines += [f"{REQUEST_LATENCY}_sum{_labels(**labels)} {latency_sum}",
                      f"{REQUEST_LATENCY}_count{_labels(**labels)} {cumulative}"]
        lines += [f"# HELP {SIGNATURE_REQUEST_COUNT} Requests by signature and status (signature \"\": none valid).",
                  f"# TYPE {SIGNATURE_REQUEST_COUNT} counter"]
        lines += [f"{SIGNATURE_REQUEST_COUNT}{_labels(model_name=model, signature_name=signature, status=status)} {count}"
                  for (signature, status), count in sorted(by_signature.items())]
        for name, (help_text, read) in self._gauges.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            value = read()
            if value is not None:
                lines.append(f"{name}{_labels(model_name=model)} {value}")
        return "\n".join(lines) + "\n"
