"""Versioned, atomic writes in the layout TF-Serving watches: `<base>/<version>/saved_model.pb`.

A version is built in a hidden temporary folder beside the others and renamed into place when
complete. TF-Serving only considers all-digit folder names, so it never sees a half-written
version, and an interrupted export leaves at most a hidden folder that the next export removes.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

TEMPORARY_PREFIX = ".tmp-export-"


def existing_versions(base: Path) -> list[int]:
    """The version numbers present under `base` (all-digit folder names), ascending."""
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit())


def next_version(base: Path) -> int:
    versions = existing_versions(base)
    return versions[-1] + 1 if versions else 1


def remove_stale_temporaries(base: Path) -> list[Path]:
    """Delete leftovers of exports that were killed before they could clean up."""
    stale = [p for p in base.glob(f"{TEMPORARY_PREFIX}*") if p.is_dir()] if base.is_dir() else []
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def check_free(base: Path, version: int) -> None:
    """Raise FileExistsError when `base/version` exists: versions are immutable once served."""
    final = base / str(version)
    if final.exists():
        raise FileExistsError(f"{final} already exists; versions are never overwritten (omit --version for the next one).")


def write_version(base: Path, version: int, build: Callable[[Path], None]) -> Path:
    """Run `build(folder)` in a temporary folder, then rename it to `base/version` in one step.

    Raises:
        FileExistsError: `base/version` already exists (versions are immutable once served).
    """
    check_free(base, version)
    base.mkdir(parents=True, exist_ok=True)
    final = base / str(version)
    temporary = Path(tempfile.mkdtemp(prefix=f"{TEMPORARY_PREFIX}{version}-", dir=base))
    try:
        build(temporary)
        temporary.chmod(0o755)  # mkdtemp makes it owner-only; the serving container may run as another user
        os.rename(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return final
