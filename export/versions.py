"""Versioned, atomic writes in the layout TF-Serving watches: `<base>/<version>/saved_model.pb`.

A version is built in a hidden temporary folder beside the others and renamed into place when
complete. TF-Serving only considers version numbers as folder names (`export.version_names`), so it
never sees a half-written version, and an interrupted export leaves at most a hidden folder that the
next export removes. Other folders beside the versions are ignored, as TF-Serving ignores them.

Exports running at the same time get distinct versions: the temporary folder `.tmp-export-<N>` is
the claim on version N (`mkdir` is atomic: the second claimant moves on to N+1), and its lock file,
held while the export runs, tells a live claim from the leftover of a killed one.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from export.version_names import MAX_VERSION, parse_version
from tfcolor.config.run_layout import fsync_entry

TEMPORARY_PREFIX = ".tmp-export-"
LOCK_SUFFIX = ".lock"
# A claim folder without its lock file is a live claim for this long (its export is between the two steps).
UNLOCKED_CLAIM_GRACE_SECONDS = 60.0
MAX_CLAIM_ATTEMPTS = 1000


def existing_versions(base: Path) -> list[int]:
    """The version numbers present under `base` (folders named as TF-Serving reads versions), ascending."""
    if not base.is_dir():
        return []
    return sorted(number for p in base.iterdir() if (number := parse_version(p.name)) is not None and p.is_dir())


def next_version(base: Path) -> int:
    """The number after the highest version on disk or claimed by an export still running."""
    claimed = [_claimed_number(p) for p in base.glob(f"{TEMPORARY_PREFIX}*")] if base.is_dir() else []
    return max([0, *existing_versions(base), *(n for n in claimed if n is not None)]) + 1


def _claimed_number(path: Path) -> int | None:
    return parse_version(path.name[len(TEMPORARY_PREFIX):])


def _lock_path(claim: Path) -> Path:
    return claim.with_name(claim.name + LOCK_SUFFIX)


def _is_live(claim: Path) -> bool:
    """Is an export still writing into `claim`? Its lock file is locked while it runs."""
    try:
        descriptor = os.open(_lock_path(claim), os.O_RDWR)
    except FileNotFoundError:
        return time.time() - claim.stat().st_mtime < UNLOCKED_CLAIM_GRACE_SECONDS
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def remove_stale_temporaries(base: Path) -> list[Path]:
    """Delete leftovers of exports that were killed before they could clean up (never a live export's)."""
    if not base.is_dir():
        return []
    stale = [p for p in base.glob(f"{TEMPORARY_PREFIX}*")
             if p.is_dir() and (_claimed_number(p) is None or not _is_live(p))]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
        _lock_path(path).unlink(missing_ok=True)
    return stale


def check_free(base: Path, version: int) -> None:
    """Raise FileExistsError when `base/version` exists: versions are immutable once served."""
    final = base / str(version)
    if final.exists():
        raise FileExistsError(f"{final} already exists; versions are never overwritten (omit --version for the next one).")


def _claim(base: Path, version: int | None) -> tuple[int, Path, int]:
    """(version, its claim folder, the locked descriptor of its lock file): `version`, or the next free one.

    Another export may rename its claim into place between our look at the folder and our claim, so
    a number is ours only once its claim exists and its version folder still does not.
    """
    for _ in range(MAX_CLAIM_ATTEMPTS):
        number = version or next_version(base)
        if number > MAX_VERSION:
            raise FileExistsError(f"no version number is left under {base}: {MAX_VERSION}, the largest TF-Serving "
                                  "reads, is taken.")
        claim = base / f"{TEMPORARY_PREFIX}{number}"
        try:
            check_free(base, number)
            claim.mkdir()
        except FileExistsError:
            if version is None:
                continue
            if (base / str(version)).exists():
                raise
            raise FileExistsError(f"another export is writing version {version} under {base} now.") from None
        if (base / str(number)).exists():
            claim.rmdir()
            if version is None:
                continue
            check_free(base, number)
        descriptor = os.open(_lock_path(claim), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        return number, claim, descriptor
    raise FileExistsError(f"could not claim a version under {base} in {MAX_CLAIM_ATTEMPTS} attempts.")


def _fsync_tree(folder: Path) -> None:
    """Flush every file of `folder`, then every folder's entries, deepest first."""
    for root, folders, files in os.walk(folder, topdown=False):
        for name in files:
            fsync_entry(Path(root) / name)
        fsync_entry(Path(root))


def write_version(base: Path, version: int | None, build: Callable[[Path], None]) -> Path:
    """Run `build(folder)` in a temporary folder, then rename it to `base/version` in one step;
    `version` None takes the next free number, safely beside concurrent exports.

    Raises:
        FileExistsError: `base/version` already exists (versions are immutable once served), another
            export is writing it, or (`version` None) the largest version number TF-Serving reads is taken.
    """
    base.mkdir(parents=True, exist_ok=True)
    number, claim, descriptor = _claim(base, version)
    final = base / str(number)
    try:
        build(claim)
        claim.chmod(0o755)  # the serving container may run as another user
        _fsync_tree(claim)  # on disk before it is visible: a power cut cannot leave a half-written version
        check_free(base, number)
        os.rename(claim, final)
        fsync_entry(base)
    except BaseException:
        shutil.rmtree(claim, ignore_errors=True)
        raise
    finally:
        _lock_path(claim).unlink(missing_ok=True)
        os.close(descriptor)
    return final
