"""The models one dev server serves, by name: those a TF-Serving `--model_config_file` lists (or the one
`--model_name`/`--model_base_path` names), each a `ModelRegistry` with its version policy and labels.

With `watch_config_file`, the file is re-read every `--model_config_file_poll_wait_seconds` as
TF-Serving does: a model added is loaded, a model removed is unloaded (its versions reported END), a
changed policy or label map applies at once, and a changed base path loads the model from there before
the old one is dropped. A file that no longer parses, or that TF-Serving would refuse, changes nothing:
the error is logged once and the previous config keeps serving.

Base paths in a config are absolute, as TF-Serving requires; the deployment's `models.config` names
the container's `/models/...`. A `Volume` (`--volume HOST:CONTAINER`, the dev server's own flag) reads
the paths under CONTAINER from HOST, as the container's `-v` mount does, so the dev server serves that
same file.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from tensorflow_serving.config import model_server_config_pb2

from serving import config_schema
from serving.model_registry import DEFAULT_MAX_LOAD_RETRIES, ModelRegistry, VersionPolicy

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Volume:
    """Config base paths under `container` are read under `host` (the container's `-v HOST:CONTAINER` mount)."""

    host: Path
    container: PurePosixPath

    @classmethod
    def parse(cls, text: str) -> Volume:
        """`HOST:CONTAINER` (a trailing `:ro` is accepted, as docker-compose.yml writes it), for `--volume`.

        Raises:
            argparse.ArgumentTypeError: not two non-empty parts, or CONTAINER not absolute.
        """
        parts = text.removesuffix(":ro").split(":")
        if len(parts) != 2 or not all(parts) or not parts[1].startswith("/"):
            raise argparse.ArgumentTypeError(f"expected HOST_DIR:CONTAINER_DIR with an absolute CONTAINER_DIR "
                                             f"(as docker run -v models:/models), got {text!r}")
        return cls(Path(parts[0]).absolute(), PurePosixPath(parts[1]))

    def host_path(self, base_path: str) -> Path | None:
        """Where `base_path` lies on this machine, if it is under `container`."""
        path = PurePosixPath(base_path)
        if path != self.container and self.container not in path.parents:
            return None
        return self.host.joinpath(*path.relative_to(self.container).parts)


def host_path(base_path: str, volumes: Sequence[Volume]) -> Path:
    """`base_path` through the volume with the deepest container folder holding it; as it is without one."""
    for volume in sorted(volumes, key=lambda volume: len(volume.container.parts), reverse=True):
        found = volume.host_path(base_path)
        if found is not None:
            return found
    return Path(base_path)


class ModelSet:
    """The served models by name (config order), reconfigured while requests read them.

    Args:
        registries: the models, one registry each.
        volumes: where config base paths are read (`--volume`).
        max_load_retries: for the registries a config adds (`--max_num_load_retries`).
        retry_interval_seconds: for the registries a config adds (`--file_system_poll_wait_seconds`).
    """

    def __init__(self, registries: Iterable[ModelRegistry], volumes: Sequence[Volume] = (),
                 max_load_retries: int = DEFAULT_MAX_LOAD_RETRIES, retry_interval_seconds: float = 1.0):
        # Replaced whole, never changed in place: a request reads one consistent mapping without a lock.
        self._registries = {registry.name: registry for registry in registries}
        self._removed: dict[str, ModelRegistry] = {}  # models a config dropped: their versions are reported END
        self.volumes = tuple(volumes)
        self.max_load_retries = max_load_retries
        self.retry_interval_seconds = retry_interval_seconds
        self._config_file: Path | None = None
        self._config_poll_seconds = 0.0
        self._config: model_server_config_pb2.ModelServerConfig | None = None
        self._config_error = ""  # the last error logged for the config file, so that each is logged once
        self._label_warnings: set[tuple[str, str, int]] = set()

    @classmethod
    def serving(cls, served: ModelSet | ModelRegistry) -> ModelSet:
        """`served` as a set: a ModelSet as it is, one ModelRegistry as a set of one."""
        return served if isinstance(served, ModelSet) else cls([served], (), served.max_load_retries,
                                                               served.retry_interval_seconds)

    @classmethod
    def from_config(cls, config: model_server_config_pb2.ModelServerConfig, volumes: Sequence[Volume] = (),
                    max_load_retries: int = DEFAULT_MAX_LOAD_RETRIES, retry_interval_seconds: float = 1.0) -> ModelSet:
        """The models `config` lists, nothing loaded yet (`refresh()` loads them).

        Raises:
            ValueError: no model is listed.
        """
        models = cls((), volumes, max_load_retries, retry_interval_seconds)
        models._registries = {registry.name: registry for registry in models._configured(config)}
        models._config = config
        return models

    def watch_config_file(self, path: Path, poll_seconds: float) -> None:
        """Re-read `path` (the file this set's config came from) every `poll_seconds` while `poll` runs; 0: never,
        TF-Serving's default."""
        self._config_file, self._config_poll_seconds = path, poll_seconds

    def names(self) -> list[str]:
        """The names of the models served, in the config's order."""
        return list(self._registries)

    def get(self, name: str) -> ModelRegistry | None:
        """The model `name`, if it is served."""
        return self._registries.get(name)

    def reported(self, name: str) -> ModelRegistry | None:
        """The model `name` for the status endpoint: served, or dropped by a config (its versions END)."""
        return self._registries.get(name) or self._removed.get(name)

    def _configured(self, config: model_server_config_pb2.ModelServerConfig) -> list[ModelRegistry]:
        """A registry per model of `config`: the served one reconfigured when its base path is unchanged, else a new one."""
        entries = list(config.model_config_list.config)
        if not entries:
            raise ValueError("no model is listed (model_config_list { config { name: ... base_path: ... } })")
        registries = []
        for entry in entries:
            base_path = host_path(entry.base_path, self.volumes)
            policy, labels = VersionPolicy.from_proto(entry.model_version_policy), dict(entry.version_labels)
            registry = self._registries.get(entry.name)
            if registry is not None and registry.base_path == base_path:
                registry.configure(policy, labels)
            else:
                registry = ModelRegistry(entry.name, base_path, self.max_load_retries, self.retry_interval_seconds,
                                         policy, labels)
            registries.append(registry)
        return registries

    def apply(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """Serve what `config` lists: new models (and moved ones) loaded before they take requests, changed
        policies and labels applied, the models it no longer lists unloaded.

        Raises:
            ValueError: no model is listed; nothing changed.
        """
        registries = self._configured(config)
        for registry in registries:
            if self._registries.get(registry.name) is not registry:
                self._refresh(registry)  # a new one: loaded before it replaces anything
        updated = {registry.name: registry for registry in registries}
        previous, self._registries, self._config = self._registries, updated, config
        for name, registry in previous.items():
            if updated.get(name) is not registry:
                registry.unload_all()
                if name not in updated:
                    self._removed[name] = registry
                    logger.info("model %s: removed from the config", name)
        for name in updated:
            self._removed.pop(name, None)
        self.refresh()
        logger.info("model config applied: %s", ", ".join(f"{r.name} ({r.policy})" for r in registries))

    def refresh(self) -> None:
        """Every model's versions refreshed (`ModelRegistry.refresh`); labels naming a version that is not served are
        logged once each."""
        for registry in list(self._registries.values()):
            self._refresh(registry)
            served = set(registry.served_versions())
            for label, version in registry.labels().items():
                key = (registry.name, label, version)
                if version in served:
                    self._label_warnings.discard(key)
                elif key not in self._label_warnings:
                    self._label_warnings.add(key)
                    logger.warning("model %s: label %r names version %d, which is not available; requests for the "
                                   "label get NOT_FOUND until it is (TF-Serving refuses such a config unless "
                                   "--allow_version_labels_for_unavailable_models)", registry.name, label, version)

    @staticmethod
    def _refresh(registry: ModelRegistry) -> None:
        try:
            registry.refresh()
        except Exception:  # the poller must outlive a surprise (e.g. the base path unreadable)
            logger.exception("model %s: looking for new versions failed", registry.name)

    def reread_config_file(self) -> None:
        """Apply the watched config file if it changed; when it cannot be read or used, log why (once) and keep the
        config being served."""
        try:
            config = config_schema.read_model_config(self._config_file)
            if config != self._config:
                self.apply(config)
            self._config_error = ""
        except ValueError as error:  # ModelConfigError, or a config listing no model
            if str(error) != self._config_error:
                self._config_error = str(error)
                logger.error("%s; still serving the previous model config", error)

    def poll(self, interval_seconds: float, stop: threading.Event) -> None:
        """Refresh the versions every `interval_seconds`, and re-read the watched config file every its own
        interval, until `stop` is set."""
        watching = self._config_file is not None and self._config_poll_seconds > 0
        next_refresh = time.monotonic() + interval_seconds
        next_config = time.monotonic() + self._config_poll_seconds if watching else float("inf")
        while not stop.wait(max(0.0, min(next_refresh, next_config) - time.monotonic())):
            if time.monotonic() >= next_config:
                self.reread_config_file()
                next_config = time.monotonic() + self._config_poll_seconds
            if time.monotonic() >= next_refresh:
                self.refresh()
                next_refresh = time.monotonic() + interval_seconds
