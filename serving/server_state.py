"""What every connection of the dev server shares: the model registry, the limits, admission control, metrics
and the rate limit of its refusals' log lines.

The server builds one `ServerState` and each request handler reads it (`self.server.state`), so the
handler depends on this object and not on the server class.
"""
from __future__ import annotations

import dataclasses

from serving.admission import Admission, Budget
from serving.connections import OpenConnections
from serving.limits import ServerLimits
from serving.log_lines import RateLimit
from serving.metrics import ServingMetrics
from serving.model_registry import LoadedVersion, ModelRegistry, VersionStatus


class NotFound(LookupError):
    """No model, version or label of that name is served: TF-Serving's NOT_FOUND (HTTP 404), in its words."""


@dataclasses.dataclass(frozen=True)
class ServerState:
    """The shared objects of one dev server; `build` makes them consistent with `limits`."""

    registry: ModelRegistry
    limits: ServerLimits
    verbose: bool
    admission: Admission
    body_budget: Budget  # bytes of request bodies and of the JSON they parse into
    pixel_budget: Budget  # pixels of the images being decoded and colorized
    connections: OpenConnections
    metrics: ServingMetrics
    refusal_log: RateLimit  # 4xx log lines, per status and client address

    def model_names(self) -> list[str]:
        """The names of the models this server serves."""
        return [self.registry.name]

    def find(self, name: str, version: int | None = None, label: str | None = None) -> LoadedVersion:
        """The loaded version a request addresses: the given version or label of model `name`, or its latest.

        Raises:
            NotFound: in TF-Serving's words ("Servable not found for request: Specific(tfcolor, 3)").
        """
        served = self.registry.get(version) if name == self.registry.name and label is None else None
        if served is None:
            wanted = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
            if label is not None:
                wanted = f"Specific({name}, label {label})"
            raise NotFound(f"Servable not found for request: {wanted}")
        return served

    def statuses(self, name: str, version: int | None = None) -> list[VersionStatus]:
        """What the status endpoint reports for model `name` (one version's when given).

        Raises:
            NotFound: no such model or version, as `find` words it.
        """
        found = self.registry.statuses(version) if name == self.registry.name else []
        if not found:
            self.find(name, version)  # raises the NotFound TF-Serving gives
        return found

    @classmethod
    def build(cls, registry: ModelRegistry, limits: ServerLimits, verbose: bool = False) -> ServerState:
        """The state for serving `registry` within `limits`, its gauges registered in its metrics."""
        admission = Admission(limits.max_concurrent_requests, limits.max_queue, limits.request_timeout_s)
        body_budget = Budget(limits.max_buffered_bytes, "bytes of request bodies and parsed JSON")
        pixel_budget = Budget(limits.max_decoded_pixels, "decoded pixels")
        connections = OpenConnections(limits.max_connections)
        metrics = ServingMetrics(registry.name)
        metrics.add_gauge("tfcolor_devserver_queue_depth", "Requests waiting for a model call.", lambda: admission.waiting)
        metrics.add_gauge("tfcolor_devserver_running_requests", "Model calls running.", lambda: admission.running)
        metrics.add_gauge("tfcolor_devserver_open_connections", "Open HTTP connections.", lambda: connections.count)
        metrics.add_gauge("tfcolor_devserver_buffered_bytes", "Bytes of request bodies and parsed JSON held in memory.",
                          lambda: body_budget.held)
        metrics.add_gauge("tfcolor_devserver_decoded_pixels", "Pixels of the images being decoded and colorized.",
                          lambda: pixel_budget.held)
        metrics.add_gauge("tfcolor_devserver_loaded_version", "The version being served (absent: none).",
                          lambda: getattr(registry.current(), "version", None))
        return cls(registry, limits, verbose, admission, body_budget, pixel_budget, connections, metrics, RateLimit())
