"""Exporting a model or a trained run as a new SavedModel version, in one sequence every caller shares:
clear leftovers of killed exports, pick the version, build the signatures, add warm-up requests,
rename into place."""
from __future__ import annotations

from pathlib import Path

from export import signatures, versions, warmup
from export.limits import Limits
from export.version_names import MAX_VERSION, is_version
from tfcolor.config import ConfigError
from tfcolor.models import restoring, upsampling
from tfcolor.models.colorizer import Colorizer


def export_model(model: Colorizer, output: str | Path, model_size: int, version: int | None = None,
                 limits: Limits = Limits(), upsample: str = upsampling.DEFAULT_METHOD) -> Path:
    """Write `model` as version `version` (default: the next one) under the base path `output`.

    `limits` (images per request, pixels per image and per request) are baked into the signatures and
    recorded in the version folder (`export.limits.LIMITS_FILE`); `upsample` is how the signatures bring
    colour from the model's size to a photo's (`tfcolor.models.upsampling`).

    Raises:
        FileExistsError: that version exists already (versions are never overwritten).
        ValueError: `version` is not a version number TF-Serving reads (1 to 2**63 - 1), or `upsample` is no
            method of `upsampling.METHODS`.
        ConfigError: `limits.max_pixels` is below the model's own size (the warm-up image, and any
            photo at the model's resolution, would be refused).
    """
    if version is not None and not is_version(version):
        raise ValueError(f"--version must be a version number TF-Serving reads (1 to {MAX_VERSION}), got {version!r}")
    if limits.max_pixels < model_size * model_size:
        raise ConfigError(f"--max-pixels {limits.max_pixels} is below the model's own {model_size}x{model_size} "
                          f"= {model_size * model_size} pixels")
    base = Path(output)
    versions.remove_stale_temporaries(base)
    if version is not None:
        versions.check_free(base, version)  # before the slow part: tracing and writing the signatures
    archive = signatures.build_archive(model, model_size, limits, upsample)

    def build(folder: Path) -> None:
        archive.write_out(str(folder), verbose=False)
        warmup.write_warmup(folder, base.name, model_size)
        limits.write(folder)

    return versions.write_version(base, version, build)


def export_run(run: str | Path, output: str | Path, version: int | None = None, image_size: int | None = None,
               limits: Limits = Limits(), upsample: str = upsampling.DEFAULT_METHOD) -> Path:
    """Export a run directory's newest checkpoint (or the named checkpoint) as a new version; returns its folder.

    `image_size` is the resolution the model predicts at (default: its training size); `limits` and
    `upsample` as in `export_model`.

    Raises:
        RunError: `run` is not a trained run.
        FileExistsError, ValueError: as `export_model`.
    """
    config, model = restoring.load_colorizer(run)
    return export_model(model, output, image_size or config.data.image_size, version, limits, upsample)
