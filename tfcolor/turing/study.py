"""A study's identity (its pairs and delay) and the results folder that belongs to it alone.

Two runs of the test with other pairs (another model or checkpoint, other photos, another `--size`)
or another delay are different studies, and one fooling rate must never pool their answers. So the
default folder is named after the study (`turing-<run name>-<study id>`), and every results folder
records the study it holds in `study.json`; a store opened on a folder of another study is refused.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import secrets
from pathlib import Path

from tfcolor.turing.pairs import Pair

STUDY_FILE = "study.json"


class StudyMismatchError(Exception):
    """A results folder that holds another study's answers, or answers of no recorded study."""


def write_json(path: Path, value: dict) -> None:
    """Write `value` to `path` atomically: a reader sees the old file or the new one, never half of one."""
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(value, indent=2), encoding="utf-8")
    os.replace(temporary, path)


def study_id(pairs: list[Pair], delay: float | None) -> str:
    """12 hex digits that change with any pair's images, their order or the delay."""
    digest = hashlib.sha256(json.dumps({"delay_s": delay}).encode("utf-8"))
    for pair in pairs:
        digest.update(f"\n{pair.pair_id}\n{pair.real}\n{pair.colorized}".encode("ascii"))
    return digest.hexdigest()[:12]


def default_folder(run: str, study: str) -> Path:
    """`turing-<run name>-<study id>`: a new study (new model, photos or delay) gets a new folder."""
    return Path(f"turing-{Path(run).resolve().name}-{study}")


def claim_folder(output: Path, identity: dict) -> dict:
    """The study recorded in `output`, written there now if the folder holds no results yet.

    `identity` has at least `study_id`; the record adds `client_salt` (for the store's client labels)
    and `created_at`.

    Raises:
        StudyMismatchError: `output` records another study, or holds answers without a `study.json`.
    """
    record_path = output / STUDY_FILE
    if record_path.exists():
        recorded = json.loads(record_path.read_text(encoding="utf-8"))
        if recorded.get("study_id") != identity["study_id"]:
            raise StudyMismatchError(
                f"{output} holds the results of study {recorded.get('study_id')} (run {recorded.get('run')}, "
                f"{recorded.get('pairs')} pairs, delay {recorded.get('delay_s')}), not of this one, study "
                f"{identity['study_id']} (run {identity.get('run')}, {identity.get('pairs')} pairs, delay "
                f"{identity.get('delay_s')}); their answers must not be pooled: pass another --output, or none "
                f"for a folder named after this study")
        return recorded
    if (output / "answers.csv").exists() or any((output / "sessions").glob("*.json")):
        raise StudyMismatchError(f"{output} holds answers but no {STUDY_FILE}, so which study they belong to is "
                                 f"unknown; pass another --output, or none for a folder named after this study")
    output.mkdir(parents=True, exist_ok=True)
    recorded = {**identity, "client_salt": secrets.token_hex(16),
                "created_at": datetime.datetime.now().isoformat(timespec="seconds")}
    write_json(record_path, recorded)
    return recorded
