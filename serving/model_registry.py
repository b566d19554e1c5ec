"""The versions of one model loaded from a TF-Serving base path, refreshed as new versions appear.

Like TF-Serving's default version policy (`latest { num_versions: 1 }`), only the newest version
is served; a newer one replaces it once it has loaded completely.

A version that fails to load is handled as TF-Serving does: the reason is logged and shown in the
status (`state: END`, `status.error_message`), the served version keeps serving, and the load is
retried at later polls with a doubling back-off, at most `max_load_retries` times
(TF-Serving's `--max_num_load_retries`). A version folder whose files change (a copy that was still
in progress) gets a fresh set of retries, so it loads once complete.

Version folders are named as TF-Serving reads them (`export.version_names`); any other folder beside
them (`²`, a number beyond int64) is ignored, with one log line per name, and never stops the
versions from being read. Hidden folders (exports in progress) are ignored without one.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from pathlib import Path

import tensorflow as tf
from tensorflow.core.protobuf import error_codes_pb2, saved_model_pb2

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
    state: str  # a ModelVersionStatus.State name: AVAILABLE, or END for a version that failed to load
    error_code: str = "OK"  # a tensorflow.error.Code name
    error_message: str = ""


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
    """Serves the newest version under `base_path` that loads; `refresh()` picks up new ones.

    Args:
        retry_interval_seconds: wait before the first retry of a failed version; doubles after each.
    """

    def __init__(self, name: str, base_path: str | Path, max_load_retries: int = DEFAULT_MAX_LOAD_RETRIES,
                 retry_interval_seconds: float = 1.0):
        self.name = name
        self.base_path = Path(base_path)
        self.max_load_retries = max_load_retries
        self.retry_interval_seconds = retry_interval_seconds
        self._current: LoadedVersion | None = None
        self._failures: dict[int, _LoadFailure] = {}
        self._ignored: set[str] = set()  # folder names that are no version, logged once each
        self._lock = threading.Lock()  # guards _current and _failures
        self._loading = threading.Lock()  # one refresh at a time

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
        """Load the newest version newer than the served one that loads; record and retry the ones that fail."""
        with self._loading:
            on_disk = self.versions_on_disk()
            current = self.current()
            for version in on_disk:
                if current is not None and version <= current.version:
                    break
                if not self._due(version):
                    continue
                try:
                    loaded = load_version(self.base_path / str(version))
                except Exception as error:  # a broken version must not take the served one down
                    self._record_failure(version, error)
                    continue
                with self._lock:
                    self._current = loaded
                    self._failures = {v: f for v, f in self._failures.items() if v > version}
                logger.info("model %s: version %d loaded and serving", self.name, version)
                break
            with self._lock:  # forget failures of folders that were removed
                self._failures = {v: f for v, f in self._failures.items() if v in on_disk}

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

    def current(self) -> LoadedVersion | None:
        with self._lock:
            return self._current

    def get(self, version: int | None) -> LoadedVersion | None:
        """The served version, if it matches `version` (None = latest)."""
        current = self.current()
        if current is None or (version is not None and version != current.version):
            return None
        return current

    def statuses(self, version: int | None = None) -> list[VersionStatus]:
        """The served version (AVAILABLE) first, then versions that failed to load (END, with the reason);
        only `version`'s when given."""
        with self._lock:
            current, failures = self._current, dict(self._failures)
        found = [VersionStatus(current.version, "AVAILABLE")] if current else []
        found += [VersionStatus(v, "END", f.error_code, f.error_message) for v, f in sorted(failures.items(), reverse=True)]
        return [status for status in found if version is None or status.version == version]

    def poll(self, interval_seconds: float, stop: threading.Event) -> None:
        while not stop.wait(interval_seconds):
            try:
                self.refresh()
            except Exception:  # the poller must outlive a surprise (e.g. the base path unreadable)
                logger.exception("model %s: looking for new versions failed", self.name)
