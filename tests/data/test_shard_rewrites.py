"""`python -m tfcolor.shards` never destroys a dataset: a rewrite that fails, is killed or runs out of
disk leaves the old set whole and readable, another tool's files are never removed, and a swap cut off
after its commit reads as the new set and is finished by the next run."""
from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, photo_crops, save_image
from tfcolor import shards
from tfcolor.data import shard_folder, shard_reader

PIPE_SIZE = 4096  # the smallest a pipe can be made: one page


def photo_folder(root: Path, count: int, seed: int = 0) -> Path:
    """`train/` with `count` distinct 16x16 colour PNGs, `val/` with 2 (a corner pixel of each made pure
    red, so that no crop of a gray patch is left out as grayscale)."""
    crops = photo_crops(count + 2, size=16, seed=seed)
    crops[:, 0, 0] = (255, 0, 0)
    for index in range(count):
        save_image(root / "train" / f"{index:03d}.png", crops[index])
    for index in range(2):
        save_image(root / "val" / f"v{index}.png", crops[count + index])
    return root


def contents(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by its relative path, with its bytes."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def photos_read(output: Path) -> tuple[int, int]:
    """(train, validation) photos the shard reader reads from `output`, after `verify` has checked every shard."""
    shard_reader.verify(output)
    return tuple(sum(1 for _ in split.in_order()) for split in shard_reader.open_shards(output))


def shard_hashes(output: Path) -> set[str]:
    manifest = json.loads((output / "manifest.json").read_text())
    return {shard["sha256"] for split in manifest["splits"].values() for shard in split["shards"]}


def test_a_rewrite_that_fails_midway_leaves_the_old_set_whole_and_readable(tmp_path):
    source, output = photo_folder(tmp_path / "photos", 12), tmp_path / "shards"
    shards.write_shards("folder", source, output, shard_size=4)
    before = contents(output)

    def fail_on_second_shard(line: str) -> None:
        if "shard 2 written" in line:
            raise RuntimeError("the rewrite fails here")

    # The same shard size: the new shards take the old ones' names, the case a rewrite in place destroys.
    with pytest.raises(RuntimeError, match="the rewrite fails here"):
        shards.write_shards("folder", source, output, shard_size=4, overwrite=True, progress=fail_on_second_shard)
    assert contents(output) == before  # the old set byte for byte, the new files removed
    assert photos_read(output) == (12, 2)


def test_a_rewrite_killed_with_sigkill_while_writing_leaves_the_old_set_readable(tmp_path):
    """The rewrite runs as `python -m tfcolor.shards` in its own process, its progress lines going to a pipe
    of one page that nobody reads: the process blocks on a full pipe after about 115 shards, so, with 150
    shards of one photo to write, it is certainly still writing when it is killed (once a line is there)."""
    source, output = photo_folder(tmp_path / "photos", 150), tmp_path / "shards"
    shards.write_shards("folder", source, output, shard_size=50)
    (output / "notes.txt").write_text("the user's own notes")
    before = contents(output)

    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    command = [sys.executable, "-m", "tfcolor.shards", "--dataset", "folder", "--dataset-path", str(source),
               "--output", str(output), "--shard-size", "1", "--overwrite"]
    with open(tmp_path / "stderr.txt", "wb") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=write_end, stderr=stderr,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    os.close(write_end)
    try:
        deadline = time.monotonic() + 120
        while int.from_bytes(fcntl.ioctl(read_end, termios.FIONREAD, b"\0" * 4), sys.byteorder) == 0:
            assert process.poll() is None, (tmp_path / "stderr.txt").read_text()
            assert time.monotonic() < deadline, "no shard written in 120 s"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
        assert b"train: shard 1 written" in os.read(read_end, PIPE_SIZE)
    finally:
        process.kill()
        os.close(read_end)

    staged = contents(output / shard_folder.STAGING)
    assert any(name.startswith("train-") for name in staged)  # killed while writing the new set
    assert {name: data for name, data in contents(output).items() if not name.startswith(".")} == before
    assert photos_read(output) == (150, 2)

    manifest = shards.write_shards("folder", source, output, shard_size=40, overwrite=True)  # the next run
    assert {p.name for p in output.iterdir()} == {s["file"] for split in manifest["splits"].values()
                                                  for s in split["shards"]} | {"manifest.json", "notes.txt"}
    assert (output / "notes.txt").read_text() == "the user's own notes"
    assert photos_read(output) == (150, 2) and len(manifest["splits"]["train"]["shards"]) == 4


def test_a_full_disk_is_a_clear_error_that_keeps_the_old_set_and_removes_the_new_files(tmp_path):
    """A real write error: the rewrite runs in a process whose files may not grow past 3 old shards'
    size (RLIMIT_FSIZE, SIGXFSZ ignored, so TensorFlow's writer gets EFBIG, as it gets ENOSPC from a
    full disk), and its single new training shard is bigger than that."""
    source, output = photo_folder(tmp_path / "photos", 10), tmp_path / "shards"
    old = shards.write_shards("folder", source, output, shard_size=1)
    before = contents(output)
    limit = 3 * max(shard["bytes"] for shard in old["splits"]["train"]["shards"])
    child = ("import resource, signal, sys\n"
             "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
             f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
             "from tfcolor import shards\n"
             "sys.exit(shards.main(sys.argv[1:]))\n")
    result = subprocess.run([sys.executable, "-c", child, "--dataset", "folder", "--dataset-path", str(source),
                             "--output", str(output), "--shard-size", "100", "--overwrite"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert f"error: {output}: out of disk space for the new shards" in result.stderr
    assert "File too large" in result.stderr and "the shards already there are untouched" in result.stderr
    assert contents(output) == before
    assert photos_read(output) == (10, 2)


def test_enospc_from_fsync_is_the_same_clear_error(tmp_path, monkeypatch):
    """ENOSPC itself, as NFS reports a full disk at fsync: `os.fsync` monkeypatched to fail that way
    (no full filesystem can be made here without root)."""
    source, output = photo_folder(tmp_path / "photos", 6), tmp_path / "shards"
    shards.write_shards("folder", source, output, shard_size=2)
    before = contents(output)

    def no_space(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(shards.DiskFull, match=f"{output}: out of disk space .*No space left on device"):
        shards.write_shards("folder", source, output, shard_size=3, overwrite=True)
    assert contents(output) == before


def test_another_tools_files_stop_the_command_and_nothing_is_deleted(tmp_path, capsys):
    source, output = photo_folder(tmp_path / "photos", 6), tmp_path / "shards"
    argv = ["--dataset", "folder", "--dataset-path", str(source), "--output", str(output), "--shard-size", "2"]
    output.mkdir()
    (output / "train-00000-of-00003.tfrecord").write_bytes(b"another tool's shard")
    for extra in ([], ["--overwrite"]):
        assert shards.main(argv + extra) == 1
        error = capsys.readouterr().err
        assert f"{output / 'train-00000-of-00003.tfrecord'} has a shard's name, but tfcolor did not write it " \
               f"({output} has no manifest.json). Nothing was changed: move it away, or give another --output." in error
        assert contents(output) == {"train-00000-of-00003.tfrecord": b"another tool's shard"}

    (output / "train-00000-of-00003.tfrecord").unlink()
    (output / "manifest.json").write_text(json.dumps({"format": "another-tool/2", "files": []}))
    assert shards.main(argv + ["--overwrite"]) == 1
    assert "expected a manifest of format 'tfcolor-shards/1'" in capsys.readouterr().err
    assert contents(output) == {"manifest.json": json.dumps({"format": "another-tool/2", "files": []}).encode()}

    (output / "manifest.json").unlink()
    assert shards.main(argv) == 0
    (output / "validation-00007-of-00009.tfrecord").write_bytes(b"not listed in our manifest")
    (output / "README.txt").write_text("kept")
    before = contents(output)
    assert shards.main(argv + ["--overwrite"]) == 1
    assert f"{output / 'validation-00007-of-00009.tfrecord'} has a shard's name" in capsys.readouterr().err
    assert contents(output) == before and photos_read(output) == (6, 2)

    (output / "validation-00007-of-00009.tfrecord").unlink()
    assert shards.main(argv[:-1] + ["3", "--overwrite"]) == 0  # our old shards replaced, the README kept
    assert sorted(p.name for p in output.iterdir()) == ["README.txt", "manifest.json", "train-00000-of-00002.tfrecord",
                                                        "train-00001-of-00002.tfrecord",
                                                        "validation-00000-of-00001.tfrecord"]


def test_a_swap_cut_off_after_its_commit_reads_as_the_new_set_and_the_next_run_finishes_it(tmp_path, monkeypatch):
    output = tmp_path / "shards"
    shards.write_shards("folder", photo_folder(tmp_path / "old", 8, seed=1), output, shard_size=4)
    new_source = photo_folder(tmp_path / "new", 8, seed=2)  # the same names, other photos
    old_hashes = shard_hashes(output)
    links, real_link = [], os.link

    def link_once(source, target):
        if links:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        links.append(target)
        real_link(source, target)

    monkeypatch.setattr(os, "link", link_once)
    with pytest.raises(shards.DatasetError, match=f"the new shards are complete and in use from {output / '.tfcolor-staging'}"
                                                  f", but moving them into {output} failed: .*Input/output error"):
        shards.write_shards("folder", new_source, output, shard_size=4, overwrite=True)
    assert photos_read(output) == (8, 2)  # the new set, read through the manifest's staging paths
    assert shard_hashes(output).isdisjoint(old_hashes)

    monkeypatch.setattr(os, "link", real_link)
    with pytest.raises(shards.ShardsExist):  # the next run finishes the swap before anything else
        shards.write_shards("folder", new_source, output, shard_size=4)
    manifest = json.loads((output / "manifest.json").read_text())
    assert "replaces" not in manifest and not (output / shard_folder.STAGING).exists()
    assert sorted(p.name for p in output.iterdir()) == ["manifest.json", "train-00000-of-00002.tfrecord",
                                                        "train-00001-of-00002.tfrecord",
                                                        "validation-00000-of-00001.tfrecord"]
    assert photos_read(output) == (8, 2) and shard_hashes(output).isdisjoint(old_hashes)


def test_without_hard_links_the_shards_are_renamed_into_place_and_a_cut_off_move_is_finished(tmp_path, monkeypatch):
    """A filesystem without hard links (`os.link` fails with EPERM, as on FAT or a FUSE bucket): the new
    shards are renamed into place, and a move cut off after one rename is finished without losing the
    shard already moved under an old shard's name."""
    output = tmp_path / "shards"
    shards.write_shards("folder", photo_folder(tmp_path / "old", 8, seed=1), output, shard_size=4)
    new_source = photo_folder(tmp_path / "new", 8, seed=2)
    old_hashes = shard_hashes(output)
    renames, real_rename = [], os.rename

    def no_link(source, target):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    def rename_once(source, target):
        if renames:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        renames.append(target)
        real_rename(source, target)

    monkeypatch.setattr(os, "link", no_link)
    monkeypatch.setattr(os, "rename", rename_once)
    with pytest.raises(shards.DatasetError, match="moving them into .* failed"):
        shards.write_shards("folder", new_source, output, shard_size=4, overwrite=True)
    with pytest.raises(shards.DatasetError, match="is missing"):  # the window: a shard missing, never a mix
        shard_reader.open_shards(output)

    monkeypatch.setattr(os, "rename", real_rename)
    with pytest.raises(shards.ShardsExist):
        shards.write_shards("folder", new_source, output, shard_size=4)
    assert photos_read(output) == (8, 2) and shard_hashes(output).isdisjoint(old_hashes)
    assert not (output / shard_folder.STAGING).exists()
