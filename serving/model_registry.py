"""The versions of one model loaded from a TF-Serving base path, as its version policy names them, refreshed
as version folders appear and disappear.

Which versions are served follows TF-Serving's `model_version_policy` (`VersionPolicy`):
`latest { num_versions: N }` (the default, N = 1) serves the N newest version folders,
`specific { versions: ... }` exactly those, and `all` every one. A request without a version gets
the newest served one. A version is loaded before any it replaces is unloaded, so a rollout leaves no
gap; then every served version the policy no longer names, or whose folder was removed, is unloaded
and reported `END`: TF-Serving's rollback (remove the newest folder and the previous version serves
again). As TF-Serving's AvailabilityPreservingPolicy does, while none of the versions the policy
names has loaded, the newest served version stays, and when the policy names no folder at all,
nothing is served.

A version that fails to load is handled as TF-Serving does: the reason is logged and shown in the
status (`state: END`, `status.error_message`), the served versions keep serving, and the load is
retried at later polls with a doubling back-off, at most `max_load_retries` times
(TF-Serving's `--max_num_load_retries`). A version folder whose files change (a copy that was still
in progress) gets a fresh set of retries, so it loads once complete. Under `latest`, the next older
folder that loads stands in for a failed one meanwhile (TF-Serving leaves its place empty), so a
server started beside a half-copied newest version serves the previous one.

Version folders are named as TF-Serving reads them (`export.version_names`); any other folder beside
them (`²`, a number beyond int64) is ignored, with one log line per name, and never stops the
versions from being read. Hidden folders (exports in progress) are ignored without one.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import tensorflow as tf
from tensorflow.core.protobuf import error_codes_pb2, saved_model_pb2
from tensorflow_serving.config import file_system_storage_path_source_pb2

from export import warmup
from export.limits import Limits
from export.version_names import RULE, parse_version
from serving.log_lines import escape
from serving.rest_api import op_error_reason

SAVED_MODEL_FILE = "saved_model.pb"
DEFAULT_MAX_LOAD_RETRIES = 5
MAX_RETRY_INTERVAL_SECONDS = 60.0

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class LoadedVersion:
    """One loaded SavedModel version: its callable signatures, their input specs and SignatureDefs,
    and the limits its export recorded (None for exports older than the limits file)."""

    version: int
    loaded: object
    input_specs: dict[str, dict[str, tf.TensorSpec]]
    signature_defs: dict
    limits: Limits | None = None

    def predict(self, signature: str, inputs: dict) -> dict:
        outputs = self.loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        return {name: value.numpy() for name, value in outputs.items()}


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    """What the status endpoint reports for one version: TF-Serving's state and error status."""

    version: int
    state: str  # a ModelVersionStatus.State name: AVAILABLE, or END for a version unloaded or that failed to load
    error_code: str = "OK"  # a tensorflow.error.Code name
    error_message: str = ""


ServableVersionPolicy = file_system_storage_path_source_pb2.FileSystemStoragePathSourceConfig.ServableVersionPolicy


@dataclasses.dataclass(frozen=True)
class VersionPolicy:
    """Which versions to serve, as TF-Serving's `model_version_policy` says.

    Args:
        latest: int or None. `latest { num_versions: N }`: the N newest versions; None for `all` and `specific`.
            Defaults to 1, TF-Serving's default policy.
        specific: frozenset of int or None. `specific { versions: ... }`: only these. Defaults to None (any).
    """

    latest: int | None = 1
    specific: frozenset[int] | None = None

    @classmethod
    def from_proto(cls, policy: ServableVersionPolicy) -> VersionPolicy:
        """The policy a `ModelConfig.model_version_policy` names (unset: `latest`, and num_versions 0 counts as 1,
        as in TF-Serving)."""
        choice = policy.WhichOneof("policy_choice")
        if choice == "all":
            return cls(latest=None)
        if choice == "specific":
            return cls(latest=None, specific=frozenset(policy.specific.versions))
        return cls(latest=max(policy.latest.num_versions, 1))

    def candidates(self, on_disk: Iterable[int]) -> list[int]:
        """The version folders the policy may serve, newest first; `latest` takes the first `latest` that load."""
        return sorted((v for v in on_disk if self.specific is None or v in self.specific), reverse=True)

    def __str__(self) -> str:
        if self.specific is not None:
            return "specific { " + " ".join(f"versions: {v}" for v in sorted(self.specific)) + " }"
        return "all {}" if self.latest is None else f"latest {{ num_versions: {self.latest} }}"


@dataclasses.dataclass
class _LoadFailure:
    error_code: str
    error_message: str
    attempts: int
    retry_at: float  # time.monotonic()
    fingerprint: tuple


def load_version(path: Path) -> LoadedVersion:
    loaded = tf.saved_model.load(str(path))
    input_specs = {
        name: dict(function.structured_input_signature[1]) for name, function in loaded.signatures.items()
    }
    saved_model = saved_model_pb2.SavedModel.FromString((path / SAVED_MODEL_FILE).read_bytes())
    signature_defs = {
        name: definition for name, definition in saved_model.meta_graphs[0].signature_def.items()
        if not name.startswith("__")
    }
    version = LoadedVersion(int(path.name), loaded, input_specs, signature_defs, Limits.read(path))
    # Replay the export's warm-up requests, as TF-Serving does, before the version takes traffic.
    for log in warmup.read_warmup(path):
        request = log.predict_log.request
        signature = request.model_spec.signature_name or "serving_default"
        version.predict(signature, {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()})
    return version


def folder_fingerprint(folder: Path) -> tuple:
    """Names, sizes and modification times of every file under `folder`: changes while a copy is under way."""
    if not folder.is_dir():
        return ()
    return tuple(sorted((str(path.relative_to(folder)), stat.st_size, stat.st_mtime_ns)
                        for path in folder.rglob("*") if path.is_file() for stat in [path.stat()]))


def error_code_name(error: Exception) -> str:
    if isinstance(error, tf.errors.OpError):
        return error_codes_pb2.Code.Name(error.error_code)
    if isinstance(error, PermissionError):
        return "PERMISSION_DENIED"
    return "NOT_FOUND" if isinstance(error, OSError) else "UNKNOWN"  # OSError: TensorFlow's "SavedModel file does not exist"


class ModelRegistry:
    """Serves the versions under `base_path` that `policy` names and that load; `refresh()` applies what changed.

    Args:
        retry_interval_seconds: wait before the first retry of a failed version; doubles after each.
        policy: which versions to serve. Defaults to the newest one.
        labels: `version_labels` of the model's config: label -> version.
    """

    def __init__(self, name: str, base_path: str | Path, max_load_retries: int = DEFAULT_MAX_LOAD_RETRIES,
                 retry_interval_seconds: float = 1.0, policy: VersionPolicy = VersionPolicy(),
                 labels: Mapping[str, int] | None = None):
        self.name = name
        self.base_path = Path(base_path)
        self.max_load_retries = max_load_retries
        self.retry_interval_seconds = retry_interval_seconds
        self._policy = policy
        self._labels = dict(labels or {})
        self._served: dict[int, LoadedVersion] = {}
        self._ended: set[int] = set()  # versions unloaded (END, OK), as TF-Serving keeps reporting them
        self._failures: dict[int, _LoadFailure] = {}
        self._ignored: set[str] = set()  # folder names that are no version, logged once each
        self._lock = threading.Lock()  # guards the policy, the labels, _served, _ended and _failures
        self._loading = threading.Lock()  # one refresh at a time

    @property
    def policy(self) -> VersionPolicy:
        return self._policy

    def configure(self, policy: VersionPolicy, labels: Mapping[str, int]) -> None:
        """A new version policy and labels (a changed model config); served versions change at the next `refresh()`."""
        with self._lock:
            self._policy, self._labels = policy, dict(labels)

    def labels(self) -> dict[str, int]:
        with self._lock:
            return dict(self._labels)

    def versions_on_disk(self) -> list[int]:
        """The version folders under the base path, newest first (complete or not: TF-Serving's view); the first
        sight of any other visible folder is logged."""
        if not self.base_path.is_dir():
            return []
        found = []
        for path in self.base_path.iterdir():
            if not path.is_dir():
                continue
            number = parse_version(path.name)
            if number is not None:
                found.append(number)
            elif not path.name.startswith(".") and path.name not in self._ignored:
                self._ignored.add(path.name)
                logger.warning('model %s: ignoring the folder "%s" in %s: not a version number (%s, as TF-Serving '
                               "reads them)", self.name, escape(path.name), self.base_path, RULE)
        return sorted(found, reverse=True)

    def refresh(self) -> None:
        """Load the versions the policy names that are not served yet (newest first), then unload the served
        versions it no longer names; record and retry the ones that fail."""
        with self._loading:
            on_disk = self.versions_on_disk()
            with self._lock:
                policy, served = self._policy, set(self._served)
            candidates = policy.candidates(on_disk)
            wanted, reached = [], set()
            for version in candidates:
                if policy.latest is not None and len(wanted) == policy.latest:
                    break
                reached.add(version)
                if version in served or (self._due(version) and self._load(version)):
                    wanted.append(version)
            # AvailabilityPreservingPolicy: while none of the versions it names has loaded, the newest served one stays.
            keep = set(wanted) if wanted or not candidates else set(sorted(served)[-1:])
            with self._lock:
                for version in sorted(set(self._served) - keep):
                    del self._served[version]
                    self._ended.add(version)
                    reason = "its folder was removed" if version not in on_disk else f"not among those {policy} serves"
                    logger.info("model %s: version %d unloaded (%s)", self.name, version, reason)
                # Failures are shown while the version is one the policy could serve: not once a folder is removed,
                # nor for older folders that newer served versions make irrelevant.
                self._failures = {v: f for v, f in self._failures.items() if v in reached}

    def _load(self, version: int) -> bool:
        try:
            loaded = load_version(self.base_path / str(version))
        except Exception as error:  # a broken version must not take the served ones down
            self._record_failure(version, error)
            return False
        with self._lock:
            self._served[version] = loaded
            self._failures.pop(version, None)
            self._ended.discard(version)
        logger.info("model %s: version %d loaded and serving", self.name, version)
        return True

    def unload_all(self) -> None:
        """Stop serving every version (the model left the config): each is reported END."""
        with self._loading, self._lock:
            if self._served:
                logger.info("model %s: versions %s unloaded (the model is no longer in the config)", self.name,
                            ", ".join(map(str, sorted(self._served))))
            self._ended.update(self._served)
            self._served.clear()
            self._failures.clear()

    def _due(self, version: int) -> bool:
        with self._lock:
            failure = self._failures.get(version)
        if failure is None:
            return True
        if folder_fingerprint(self.base_path / str(version)) != failure.fingerprint:
            return True  # its files changed: a copy in progress went on, or it was replaced
        return failure.attempts <= self.max_load_retries and time.monotonic() >= failure.retry_at

    def _record_failure(self, version: int, error: Exception) -> None:
        folder = self.base_path / str(version)
        fingerprint = folder_fingerprint(folder)
        with self._lock:
            previous = self._failures.get(version)
            attempts = previous.attempts + 1 if previous and previous.fingerprint == fingerprint else 1
            delay = min(self.retry_interval_seconds * 2 ** (attempts - 1), MAX_RETRY_INTERVAL_SECONDS)
            message = f"Failed to load version {version} from {folder}: {op_error_reason(str(error))}"
            self._failures[version] = _LoadFailure(error_code_name(error), message, attempts,
                                                   time.monotonic() + delay, fingerprint)
        retries_left = self.max_load_retries + 1 - attempts
        then = (f"retrying in {delay:g} s ({retries_left} retries left)" if retries_left > 0
                else "no retries left until its files change")
        logger.warning("model %s: %s; %s", self.name, message, then)

    def served_versions(self) -> list[int]:
        """The versions being served, newest first."""
        with self._lock:
            return sorted(self._served, reverse=True)

    def current(self) -> LoadedVersion | None:
        """The newest served version: what a request without a version gets."""
        return self.get(None)

    def get(self, version: int | None) -> LoadedVersion | None:
        """The served `version` (None = the newest served), or None when it is not served."""
        with self._lock:
            if version is None:
                return self._served[max(self._served)] if self._served else None
            return self._served.get(version)

    def statuses(self, version: int | None = None) -> list[VersionStatus]:
        """Every version this registry has served or tried, newest first, as TF-Serving's status lists them:
        AVAILABLE, END with the reason for one that failed to load, END (OK) for one unloaded; only `version`'s
        when given."""
        with self._lock:
            served, failures, ended = set(self._served), dict(self._failures), set(self._ended)
        found = {v: VersionStatus(v, "END") for v in ended}
        found.update({v: VersionStatus(v, "END", f.error_code, f.error_message) for v, f in failures.items()})
        found.update({v: VersionStatus(v, "AVAILABLE") for v in served})
        return [found[v] for v in sorted(found, reverse=True) if version is None or v == version]
