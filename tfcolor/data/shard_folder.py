"""A shard folder's own files: a new set swapped in beside the old one, and no other tool's file touched.

`python -m tfcolor.shards --output DIR` may write where a set of ours, or another tool's files, already
are. Ours are the files a manifest of ours lists, and only those are ever replaced or removed: a file
with a shard's name that no manifest of ours lists, or a `manifest.json` that is not ours, stops the
command before anything is written (`ForeignFile`, naming it).

A new set is written beside the old one, in `DIR/.tfcolor-staging/`, and swapped in once complete:

1. stage: every shard written, fsynced and named; then two manifests, fsynced with the folder: the
   final one, and an interim one listing the same shards inside the staging folder, with `replaces`
   (the old set's files).
2. commit: the interim manifest renamed over `DIR/manifest.json`, the one atomic step: a reader trusts
   the manifest alone, so it reads the whole old set before the rename and the whole new set after it.
3. place: the old set's files unlinked (no manifest lists them now), each new shard hard-linked into
   DIR under its final name, DIR fsynced.
4. finish: the final manifest renamed over `DIR/manifest.json`, DIR fsynced, the staging folder removed.

Crash windows. During 1 (the whole writing) the old set is untouched; the staging folder left behind is
removed by the next run. From 2 to 4 the new set is read from the staging folder, and the next run on DIR
does 3 and 4 first. Where the filesystem has no hard links, 3 renames the shards instead: until 4, a
reader may find one missing (an error naming it, never a mix of sets). A reader that opened the old
set before the swap (a training run) keeps reading its paths, which then hold the new shards: rewrite
shards nothing is reading. One writer at a time per folder.
"""
from __future__ import annotations

import copy
import errno
import json
import os
import re
from pathlib import Path

from tfcolor.config.run_layout import fsync_entry
from tfcolor.data.shard_reader import MANIFEST, SPLITS, read_manifest, shards_of
from tfcolor.data.skips import DatasetError

STAGING = ".tfcolor-staging"
_INTERIM = "interim-manifest.json"
_FINAL = "final-manifest.json"
_SHARD_NAME = re.compile(r"(train|validation)-\d{5}-of-\d{5}\.tfrecord")
_STAGED_NAME = re.compile(rf"(train|validation)-\d{{5}}(-of-\d{{5}})?\.tfrecord|{re.escape(_INTERIM)}|{re.escape(_FINAL)}")
# os.link's errors on a filesystem without hard links (FAT, many FUSE mounts of cloud buckets).
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK}


class ShardsExist(DatasetError):
    """The output folder already holds a complete set of shards."""


class ForeignFile(DatasetError):
    """The output folder holds a file with a name of ours that tfcolor did not write (or no longer lists)."""


def shard_name(split: str, index: int, total: int) -> str:
    """A shard's file name in DIR, `train-00000-of-00012.tfrecord`: the only shard names tfcolor removes."""
    return f"{split}-{index:05d}-of-{total:05d}.tfrecord"


def staged_name(split: str, index: int) -> str:
    """A shard's name in the staging folder while its split's total is not known yet."""
    return f"{split}-{index:05d}.tfrecord"


def _listed_names(root: Path, manifest: dict) -> list[str]:
    return [Path(shard.path).relative_to(root).as_posix() for split in SPLITS for shard in shards_of(root, manifest, split)]


def _our_manifest(output: Path) -> dict | None:
    """DIR's manifest when there is one and it is ours.

    Raises:
        ForeignFile: a `manifest.json` that is not a readable tfcolor shards manifest.
    """
    if not (output / MANIFEST).exists():
        return None
    try:
        manifest = read_manifest(output)
        _listed_names(output, manifest)
    except (DatasetError, ValueError) as error:  # ValueError: a file listed outside DIR
        raise ForeignFile(f"{error}. It is not a manifest python -m tfcolor.shards wrote, so nothing in {output} "
                          f"was changed: move it away, or give another --output.") from None
    return manifest


def claim(output: Path, overwrite: bool) -> list[str]:
    """Make `output` ready for a new set: an interrupted swap finished, a killed run's staging folder
    removed. Returns the files of the complete set there (for `replaces`), `[]` where there is none.

    Raises:
        ForeignFile: a shard-named file or a manifest there that tfcolor did not write (nothing is changed).
        ShardsExist: `output` holds a complete set and `overwrite` is off.
        DatasetError: an interrupted swap could not be finished (said how to finish it).
    """
    manifest = _our_manifest(output)
    if manifest is not None and "replaces" in manifest:
        _finish(output)
        manifest = _our_manifest(output)
    ours = _listed_names(output, manifest) if manifest is not None else []
    foreign = sorted(path.name for path in output.iterdir() if _SHARD_NAME.fullmatch(path.name) and path.name not in ours)
    if foreign:
        listed = f"{output / MANIFEST} does not list it" if manifest is not None else f"{output} has no {MANIFEST}"
        raise ForeignFile(f"{output / foreign[0]}" + (f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else "")
                          + f" has a shard's name, but tfcolor did not write it ({listed}). Nothing was changed: "
                            f"move it away, or give another --output.")
    if manifest is not None and not overwrite:
        try:
            holds = f"shards of {manifest['source']['dataset']} at {manifest['source']['path']}"
        except (KeyError, TypeError):
            holds = f"a {MANIFEST}"
        raise ShardsExist(f"{output} already holds {holds}; give --overwrite to write them again.")
    remove_staging(output)
    return [name for name in ours if _SHARD_NAME.fullmatch(name)]


def new_staging(output: Path) -> Path:
    """The empty staging folder the new set is written in (beside DIR's files, on the same filesystem)."""
    staging = output / STAGING
    staging.mkdir()
    return staging


def remove_staging(output: Path) -> None:
    """Remove the staging folder: the files tfcolor names there, then the folder.

    Raises:
        ForeignFile: the folder holds something else, which is left there.
    """
    staging = output / STAGING
    if not staging.is_dir():
        return
    for path in staging.iterdir():
        if _STAGED_NAME.fullmatch(path.name) and path.is_file():
            path.unlink()
    try:
        staging.rmdir()
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        others = sorted(path.name for path in staging.iterdir())
        raise ForeignFile(f"{staging} holds {', '.join(others)}, which tfcolor did not write: move "
                          f"{'it' if len(others) == 1 else 'them'} away and run again.") from None


def _write_synced(path: Path, manifest: dict) -> None:
    with path.open("w", encoding="utf-8") as file:
        file.write(json.dumps(manifest, indent=1, ensure_ascii=False))
        file.flush()
        os.fsync(file.fileno())


def stage(output: Path, manifest: dict, replaces: list[str]) -> None:
    """Step 1's end: the final and interim manifests of the set written in the staging folder."""
    staging = output / STAGING
    interim = copy.deepcopy(manifest)
    for entry in interim["splits"].values():
        for shard in entry["shards"]:
            shard["file"] = f"{STAGING}/{shard['file']}"
    interim["replaces"] = replaces
    _write_synced(staging / _FINAL, manifest)
    _write_synced(staging / _INTERIM, interim)
    fsync_entry(staging)


def commit(output: Path) -> None:
    """Steps 2 to 4: the staged set made DIR's, then moved into DIR under its final names.

    Raises:
        ForeignFile: a file tfcolor did not write took a new shard's name meanwhile.
        DatasetError: moving the shards failed after the commit; the new set is in use from the staging
            folder, and the next run on `output` finishes the move.
    """
    try:
        os.replace(output / STAGING / _INTERIM, output / MANIFEST)
    except OSError:
        remove_staging(output)  # nothing was switched: the old set stays DIR's
        raise
    _finish(output)


def _finish(output: Path) -> None:
    """Steps 3 and 4, a failure there said as what it leaves: the new set in use, the move to be finished."""
    try:
        _finish_swap(output)
    except OSError as error:
        raise DatasetError(f"the new shards are complete and in use from {output / STAGING}, but moving them into "
                           f"{output} failed: {error}. Once that is fixed, run python -m tfcolor.shards with "
                           f"--output {output} again: it finishes the move first.") from None


def _place(staged: Path, final: Path) -> None:
    """`staged` also named `final`: a hard link, so that the interim manifest's path stays readable."""
    try:
        os.link(staged, final)
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        os.rename(staged, final)


def _finish_swap(output: Path) -> None:
    """Steps 3 and 4, from what the interim manifest (DIR's manifest now) records: run again after a crash.

    Raises:
        ForeignFile: a file tfcolor did not write took a new shard's name meanwhile.
    """
    fsync_entry(output)  # the commit on disk before any old shard goes
    staging, interim = output / STAGING, read_manifest(output)
    new = [Path(name).name for name in _listed_names(output, interim)]
    for name in interim["replaces"]:  # a new shard already renamed into place (no hard links) is kept
        if _SHARD_NAME.fullmatch(name) and (name not in new or (staging / name).exists()):
            (output / name).unlink(missing_ok=True)
    for name in new:
        staged, final = staging / name, output / name
        if not staged.exists() or (final.exists() and os.path.samefile(staged, final)):
            continue
        if final.exists():
            raise ForeignFile(f"{final} has the name of a new shard, but tfcolor did not write it: move it away and "
                              f"run python -m tfcolor.shards with --output {output} again, which finishes the move "
                              f"(the new shards are in use from {staging} meanwhile).")
        _place(staged, final)
    fsync_entry(output)
    os.replace(staging / _FINAL, output / MANIFEST)
    fsync_entry(output)
    remove_staging(output)
