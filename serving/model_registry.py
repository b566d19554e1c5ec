"""The versions of one model loaded from a TF-Serving base path, refreshed as new versions appear.

Like TF-Serving's default version policy (`latest { num_versions: 1 }`), only the newest version
is served; a newer one replaces it once it has loaded completely.
"""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from export import warmup

SAVED_MODEL_FILE = "saved_model.pb"


@dataclasses.dataclass
class LoadedVersion:
    """One loaded SavedModel version: its callable signatures, their input specs and SignatureDefs."""

    version: int
    loaded: object
    input_specs: dict[str, dict[str, tf.TensorSpec]]
    signature_defs: dict

    def predict(self, signature: str, inputs: dict) -> dict:
        outputs = self.loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
        return {name: value.numpy() for name, value in outputs.items()}


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
    version = LoadedVersion(int(path.name), loaded, input_specs, signature_defs)
    # Replay the export's warm-up requests, as TF-Serving does, before the version takes traffic.
    for log in warmup.read_warmup(path):
        request = log.predict_log.request
        signature = request.model_spec.signature_name or "serving_default"
        version.predict(signature, {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()})
    return version


class ModelRegistry:
    """Serves the newest complete version under `base_path`; `refresh()` picks up new ones."""

    def __init__(self, name: str, base_path: str | Path):
        self.name = name
        self.base_path = Path(base_path)
        self._current: LoadedVersion | None = None
        self._lock = threading.Lock()
        self._failed: set[int] = set()
        self.last_error: str | None = None

    def newest_on_disk(self) -> int | None:
        if not self.base_path.is_dir():
            return None
        versions = [int(p.name) for p in self.base_path.iterdir()
                    if p.name.isdigit() and (p / SAVED_MODEL_FILE).is_file()]
        return max(versions, default=None)

    def refresh(self) -> None:
        """Load the newest version on disk if it is newer than the one served; keep serving on failure."""
        newest = self.newest_on_disk()
        current = self.current()
        if newest is None or newest in self._failed or (current is not None and current.version >= newest):
            return
        try:
            loaded = load_version(self.base_path / str(newest))
        except Exception as error:  # a broken version must not take the served one down
            self.last_error = f"version {newest} failed to load: {error}"
            self._failed.add(newest)
            return
        with self._lock:
            self._current = loaded
            self.last_error = None

    def current(self) -> LoadedVersion | None:
        with self._lock:
            return self._current

    def get(self, version: int | None) -> LoadedVersion | None:
        """The served version, if it matches `version` (None = latest)."""
        current = self.current()
        if current is None or (version is not None and version != current.version):
            return None
        return current

    def poll(self, interval_seconds: float, stop: threading.Event) -> None:
        while not stop.wait(interval_seconds):
            self.refresh()
