"""What one call of an exported model accepts, and the file in a version folder that records it.

Standard library and `tfcolor.config` only (no TensorFlow, no model code), so a server can read an
export's limits without loading what builds the export.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tfcolor.config import DEFAULT_MAX_PIXELS, ConfigError
from tfcolor.config.rules import is_positive_int

DEFAULT_MAX_BATCH = 64
DEFAULT_MAX_RENDER_SIZE = 512
MIN_RENDER_SIZE = 16
# Beside TF-Serving's warm-up records: TF-Serving ignores other files in assets.extra, and a server
# (the dev server) reads the limits there without loading the graph, to refuse a request before it
# runs. The graph's own checks stay authoritative; this file only lets a server refuse earlier.
LIMITS_FILE = Path("assets.extra") / "tfcolor_limits.json"


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one call of a signature accepts.

    Args:
        max_pixels: height x width of one image (encoded or decoded); larger ones are refused.
        max_batch: images per call (the N of every signature's `[N, ...]` input).
        max_request_pixels: height x width summed over the images of one call, read from their
            headers before any is decoded: what bounds a call's memory, since decoding and colorizing
            take tens of bytes a pixel. At least `max_pixels`.
        max_render_size: the largest side of the square the `colorize_render_size` signature may
            colorize at (its `render_size` input, from MIN_RENDER_SIZE); the network's memory grows with
            its square.
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_batch: int = DEFAULT_MAX_BATCH
    max_request_pixels: int = DEFAULT_MAX_PIXELS
    max_render_size: int = DEFAULT_MAX_RENDER_SIZE

    def __post_init__(self):
        for name, value in dataclasses.asdict(self).items():
            if not is_positive_int(value):
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.max_render_size < MIN_RENDER_SIZE:
            raise ConfigError(f"--max-render-size must be at least {MIN_RENDER_SIZE}, got {self.max_render_size}")
        if self.max_request_pixels < self.max_pixels:
            raise ConfigError(f"--max-request-pixels ({self.max_request_pixels}) must be at least --max-pixels "
                              f"({self.max_pixels}): a request of one largest image would be refused")

    def write(self, version_dir: Path) -> Path:
        path = Path(version_dir) / LIMITS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dataclasses.asdict(self)))
        return path

    @classmethod
    def read(cls, version_dir: Path) -> Limits | None:
        """The limits an export recorded, or None for an export older than the limits file; an export from
        before `max_request_pixels` gets the value its graph enforces: no total beyond the batch's."""
        path = Path(version_dir) / LIMITS_FILE
        if not path.is_file():
            return None
        recorded = json.loads(path.read_text())
        recorded.setdefault("max_request_pixels", recorded.get("max_pixels", DEFAULT_MAX_PIXELS)
                            * recorded.get("max_batch", DEFAULT_MAX_BATCH))
        return cls(**recorded)
