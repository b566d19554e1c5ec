"""Concurrent and killed exports: distinct versions, and leftovers removed only when dead; version numbers
as TF-Serving reads them, stray folders beside them ignored."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from export import __main__ as export_cli
from export import versions
from export.version_names import MAX_VERSION, parse_version
from tests.helpers import STRAY_VERSION_NAMES


def test_exports_claiming_the_same_version_at_once_get_distinct_ones(tmp_path):
    base = tmp_path / "models" / "tfcolor"
    start = threading.Barrier(4)
    written: list[Path] = []
    errors: list[BaseException] = []

    def build(folder: Path) -> None:
        (folder / "saved_model.pb").write_bytes(b"model")

    def export_one() -> None:
        start.wait(timeout=30)
        try:
            written.append(versions.write_version(base, None, build))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=export_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and sorted(p.name for p in written) == ["1", "2", "3", "4"]
    assert versions.existing_versions(base) == [1, 2, 3, 4] and not list(base.glob(".tmp-*"))


def test_a_live_export_keeps_its_claim_and_a_killed_ones_leftover_is_removed(tmp_path):
    base = tmp_path / "tfcolor"
    base.mkdir()
    killed = base / f"{versions.TEMPORARY_PREFIX}3"
    killed.mkdir()
    (base / f"{versions.TEMPORARY_PREFIX}3{versions.LOCK_SUFFIX}").touch()  # lock file left unlocked: its export died
    seen_during_build: list[list[Path]] = []

    def build(folder: Path) -> None:
        seen_during_build.append(versions.remove_stale_temporaries(base))  # another export's cleanup, mid-write
        (folder / "saved_model.pb").write_bytes(b"model")

    assert versions.write_version(base, None, build) == base / "4"  # 3 was still claimed when it picked
    assert seen_during_build == [[killed]] and not killed.exists()


@pytest.mark.slow
def test_two_export_processes_started_together_write_two_versions(trained_run, tmp_path):
    base = tmp_path / "models" / "tfcolor"
    command = [sys.executable, "-m", "export", "--run", str(trained_run), "--output", str(base)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], results
    assert versions.existing_versions(base) == [1, 2]
    assert all((base / v / "saved_model.pb").is_file() for v in ("1", "2")) and not list(base.glob(".tmp-*"))


def test_only_ascii_digits_within_int64_name_a_version():
    assert [parse_version(name) for name in ("1", "007", str(MAX_VERSION))] == [1, 7, MAX_VERSION]
    for name in ("²", "\u0663", "0", "-1", "+1", " 1", "1 ", "1_000", "1.0", "", str(MAX_VERSION + 1), "9" * 5000):
        assert parse_version(name) is None, name


def test_stray_folders_beside_the_versions_are_ignored_when_choosing_the_next_one(tmp_path):
    base = tmp_path / "tfcolor"
    for name in ("1", *STRAY_VERSION_NAMES, f"{versions.TEMPORARY_PREFIX}²"):
        (base / name).mkdir(parents=True)

    def build(folder: Path) -> None:
        (folder / "saved_model.pb").write_bytes(b"model")

    assert versions.existing_versions(base) == [1] and versions.next_version(base) == 2
    assert versions.write_version(base, None, build) == base / "2"
    assert versions.existing_versions(base) == [1, 2] and all((base / name).is_dir() for name in STRAY_VERSION_NAMES)


@pytest.mark.slow
def test_the_next_export_beside_stray_folders_is_version_2(trained_run, tmp_path, capsys):
    base = tmp_path / "tfcolor"
    for name in ("1", *STRAY_VERSION_NAMES):
        (base / name).mkdir(parents=True)
    assert export_cli.main(["--run", str(trained_run), "--output", str(base)]) == 0
    assert f"Exported version 2 to {base / '2'}" in capsys.readouterr().out
    assert (base / "2" / "saved_model.pb").is_file() and versions.existing_versions(base) == [1, 2]


@pytest.mark.parametrize("value", ["²", "9" * 20, "-1", "0", "+1", "1.5"])
def test_a_version_tf_serving_would_not_read_is_a_usage_error(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        export_cli.main(["--run", str(tmp_path), "--output", str(tmp_path / "tfcolor"), "--version", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    expected = f"argument --version: expected a version number TF-Serving reads (ASCII digits, 1 to {MAX_VERSION})"
    assert f"{expected}, got {value!r}" in err
    assert "Traceback" not in err and not (tmp_path / "tfcolor").exists()


def test_every_file_of_a_version_is_on_disk_before_the_version_is_renamed_into_place(tmp_path, monkeypatch):
    events: list[tuple[str, str]] = []
    real_fsync, real_rename = os.fsync, os.rename
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "rename", lambda a, b: (events.append(("rename", str(b))), real_rename(a, b))[1])

    def build(folder):
        (folder / "variables").mkdir()
        (folder / "saved_model.pb").write_bytes(b"graph")
        (folder / "variables" / "variables.index").write_bytes(b"index")

    final = versions.write_version(tmp_path / "tfcolor", None, build)
    renamed = events.index(("rename", str(final)))
    synced_before = {Path(path).name for kind, path in events[:renamed] if kind == "fsync"}
    assert {"saved_model.pb", "variables.index", "variables"} <= synced_before
    assert ("fsync", str(tmp_path / "tfcolor")) in events[renamed:]  # the base folder's new entry, after
