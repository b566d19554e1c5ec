"""Concurrent and killed exports: distinct versions, and leftovers removed only when dead."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from export import versions


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
