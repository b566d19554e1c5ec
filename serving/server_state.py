"""What every connection of the dev server shares: the served models, the limits, admission control, metrics
and the rate limit of its refusals' log lines.

The server builds one `ServerState` and each request handler reads it (`self.server.state`), so the
handler depends on this object and not on the server class. Every protocol finds a model's version
through `find` and `statuses` alone, by name and version or label, and gets TF-Serving's errors.
"""
from __future__ import annotations

import dataclasses

from serving.admission import Admission, Budget
from serving.batching import Batcher, BatchingParameters
from serving.connections import OpenConnections
from serving.limits import ServerLimits
from serving.log_lines import RateLimit
from serving.metrics import ServingMetrics
from serving.model_registry import LoadedVersion, VersionStatus
from serving.model_set import ModelSet


class NotFound(LookupError):
    """No model, version or label of that name is served: TF-Serving's NOT_FOUND (HTTP 404), in its words.

    `code` is the canonical error code a protocol answers with (`UnknownLabel`'s differs)."""

    code = "NOT_FOUND"


class UnknownLabel(NotFound):
    """A label the model's config does not name: TF-Serving's INVALID_ARGUMENT (HTTP 400), "Unrecognized servable
    version label: ..."."""

    code = "INVALID_ARGUMENT"


def _newest_version(models: ModelSet, name: str) -> int | None:
    registry = models.get(name)
    current = registry.current() if registry is not None else None
    return current.version if current is not None else None


@dataclasses.dataclass(frozen=True)
class ServerState:
    """The shared objects of one dev server; `build` makes them consistent with `limits`."""

    models: ModelSet
    limits: ServerLimits
    verbose: bool
    admission: Admission
    body_budget: Budget  # bytes of request bodies and of the JSON they parse into
    pixel_budget: Budget  # pixels of the images being decoded and colorized
    connections: OpenConnections
    metrics: ServingMetrics
    refusal_log: RateLimit  # 4xx log lines, per status and client address
    batcher: Batcher | None = None  # merges concurrent model calls (--enable_batching); None: each runs alone

    def model_names(self) -> list[str]:
        """The names of the models this server serves, in the config's order."""
        return self.models.names()

    def _labelled(self, name: str, label: str) -> int:
        """The version `label` names in model `name`'s config.

        Raises:
            UnknownLabel: the model is not served or its config has no such label.
        """
        registry = self.models.get(name)
        version = registry.labels().get(label) if registry is not None else None
        if version is None:
            raise UnknownLabel(f"Unrecognized servable version label: {label}")
        return version

    def find(self, name: str, version: int | None = None, label: str | None = None) -> LoadedVersion:
        """The loaded version a request addresses: the given version or label of model `name`, or its newest.

        Raises:
            NotFound: in TF-Serving's words ("Servable not found for request: Specific(tfcolor, 3)"), also for a
                label naming a version that is not served.
            UnknownLabel: `label` is not one of the model's labels.
        """
        if label is not None:
            version = self._labelled(name, label)
        registry = self.models.get(name)
        served = registry.get(version) if registry is not None else None
        if served is None:
            wanted = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
            raise NotFound(f"Servable not found for request: {wanted}")
        return served

    def statuses(self, name: str, version: int | None = None, label: str | None = None) -> list[VersionStatus]:
        """What the status endpoint reports for model `name` (one version's, or its label's, when given); a model a
        config dropped still reports its versions (END).

        Raises:
            NotFound: no such model or version, as `find` words it.
            UnknownLabel: `label` is not one of the model's labels.
        """
        if label is not None:
            version = self._labelled(name, label)
        registry = self.models.reported(name)
        found = registry.statuses(version) if registry is not None else []
        if not found:
            self.find(name, version)  # raises the NotFound TF-Serving gives
        return found

    @classmethod
    def build(cls, models: ModelSet, limits: ServerLimits, verbose: bool = False,
              batching: BatchingParameters | None = None) -> ServerState:
        """The state for serving `models` within `limits` (merging concurrent calls by `batching` when given), its
        gauges registered in its metrics (those of the first model)."""
        admission = Admission(limits.max_concurrent_requests, limits.max_queue, limits.request_timeout_s)
        body_budget = Budget(limits.max_buffered_bytes, "bytes of request bodies and parsed JSON")
        pixel_budget = Budget(limits.max_decoded_pixels, "decoded pixels")
        connections = OpenConnections(limits.max_connections)
        metrics = ServingMetrics(models.names()[0])
        metrics.add_gauge("tfcolor_devserver_queue_depth", "Requests waiting for a model call.", lambda: admission.waiting)
        metrics.add_gauge("tfcolor_devserver_running_requests", "Model calls running.", lambda: admission.running)
        metrics.add_gauge("tfcolor_devserver_open_connections", "Open HTTP connections.", lambda: connections.count)
        metrics.add_gauge("tfcolor_devserver_buffered_bytes", "Bytes of request bodies and parsed JSON held in memory.",
                          lambda: body_budget.held)
        metrics.add_gauge("tfcolor_devserver_decoded_pixels", "Pixels of the images being decoded and colorized.",
                          lambda: pixel_budget.held)
        metrics.add_gauge("tfcolor_devserver_loaded_version", "The newest version being served (absent: none).",
                          lambda: _newest_version(models, metrics.model_name))
        batcher = Batcher(batching) if batching else None
        if batcher:
            metrics.add_gauge("tfcolor_devserver_batched_calls", "Model calls run by the batcher since the start.",
                              lambda: batcher.calls)
            metrics.add_gauge("tfcolor_devserver_batched_examples", "Examples those model calls held, in all.",
                              lambda: batcher.examples)
        return cls(models, limits, verbose, admission, body_budget, pixel_budget, connections, metrics, RateLimit(),
                   batcher)
