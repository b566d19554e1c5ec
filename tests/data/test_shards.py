"""`python -m tfcolor.shards` and `--dataset tfrecord`: what is written, what is left out and why, what
reading gives back, and damaged or unfinished shards refused with the file named."""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TINY_TRAIN_ARGS, photo_crops, save_image
from tfcolor import shards, train
from tfcolor.config import DataConfig
from tfcolor.data import cifar, photo_files, pipelines, places365, reading, shard_folder, shard_reader, skips, sources

MAX_PIXELS = 48 * 48
NOT_UTF8_NAME = b"caf\xe9.jpg"


def mixed_folder(root: Path) -> Path:
    """`train/`: 10 colour photos (JPEG and PNG), a corrupt JPEG, a gray photo, one over MAX_PIXELS and a
    name that is not UTF-8; `val/`: 3 colour photos."""
    crops = photo_crops(14, size=32)
    for index in range(10):
        suffix, options = (".jpg", {"quality": 95}) if index % 2 else (".png", {})
        save_image(root / "train" / f"sub{index % 3}" / f"{index:02d}{suffix}", crops[index], **options)
    (root / "train" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    save_image(root / "train" / "gray.png", crops[0].mean(axis=-1).astype(np.uint8))
    save_image(root / "train" / "big.png", photo_crops(1, size=64, seed=5)[0])
    with open(os.fsencode(root / "train") + b"/" + NOT_UTF8_NAME, "wb") as file:
        file.write((root / "train" / "sub1" / "01.jpg").read_bytes())
    for index in range(3):
        save_image(root / "val" / f"v{index}.png", crops[10 + index])
    return root


def written(source: Path, output: Path, dataset: str = "folder", **options) -> dict:
    options.setdefault("max_pixels", MAX_PIXELS)
    return shards.write_shards(dataset, source, output, **options)


def decoded_multiset(source, max_pixels: int = MAX_PIXELS) -> Counter:
    """The photos a source gives the pipelines (decoded in full), as a multiset of their uint8 pixels."""
    images = reading.source_images(source, skips.PipelineStats(), None, max_pixels)
    return Counter(np.round(rgb.numpy() * 255).astype(np.uint8).tobytes() for rgb in images)


def test_a_folder_is_written_with_each_left_out_photo_and_its_reason(tmp_path):
    root = mixed_folder(tmp_path / "photos")
    manifest = written(root, tmp_path / "shards", shard_size=4)
    train_split, validation = manifest["splits"]["train"], manifest["splits"]["validation"]
    assert train_split["examples"] == 10 and validation["examples"] == 3
    assert train_split["skipped_counts"] == {"corrupt": 1, "grayscale": 1, "oversized": 1, "unlisted": 1}
    reasons = train_split["skipped"]
    assert reasons["train/gray.png"] == "grayscale"
    assert reasons["train/big.png"] == "image is 64x64 = 4096 pixels, over the limit of 2304 pixels"
    assert reasons["train/broken.jpg"].startswith("not a readable image")
    assert reasons["train/caf\\xe9.jpg"] == skips.UNTEXT_NAME_REASON
    assert [s["file"] for s in train_split["shards"]] == [f"train-0000{i}-of-00003.tfrecord" for i in range(3)]
    assert [s["examples"] for s in train_split["shards"]] == [4, 4, 2]
    assert manifest["source"] == {"dataset": "folder", "path": str(root.resolve())}
    assert json.loads((tmp_path / "shards" / "manifest.json").read_text()) == manifest
    for shard in train_split["shards"] + validation["shards"]:
        path = tmp_path / "shards" / shard["file"]
        assert path.stat().st_size == shard["bytes"] and shard_reader.sha256_of(path) == shard["sha256"]
    records = [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(
        [str(tmp_path / "shards" / s["file"]) for s in train_split["shards"]])]
    for record in records:  # each photo's bytes exactly as on disk, its size, its name
        feature = record.features.feature
        name = feature["image/source"].bytes_list.value[0].decode()
        assert feature["image/encoded"].bytes_list.value[0] == (root / name).read_bytes()
        assert (feature["image/height"].int64_list.value[0], feature["image/width"].int64_list.value[0]) == (32, 32)
    assert len({r.features.feature["image/source"].bytes_list.value[0] for r in records}) == 10
    assert not [p for p in (tmp_path / "shards").iterdir() if p.name.startswith(".")]  # no temporaries left


def test_reading_the_shards_gives_the_photos_the_folder_reader_gives(tmp_path):
    root = mixed_folder(tmp_path / "photos")
    written(root, tmp_path / "shards", shard_size=3)
    train_files, validation_files = photo_files.folder_files(root)
    sharded_train, sharded_validation = shard_reader.open_shards(tmp_path / "shards")
    assert len(sharded_train) == 10 and len(sharded_validation) == 3
    from_files = decoded_multiset(sources.PhotoFiles(train_files))
    assert sum(from_files.values()) == 10  # corrupt, gray and oversized skipped by the folder reader too
    assert decoded_multiset(sharded_train) == from_files
    assert decoded_multiset(sharded_validation) == decoded_multiset(sources.PhotoFiles(validation_files))


def test_places365_layout_and_cifar_batches_keep_their_splits(places_dir, cifar_dir, tmp_path):
    places = written(places_dir, tmp_path / "places", "places365", shard_size=4, max_pixels=64 * 64)["splits"]
    assert (places["train"]["examples"], places["validation"]["examples"]) == (10, 4)
    assert places["train"]["skipped_counts"] == {"corrupt": 1, "grayscale": 1, "oversized": 0, "unlisted": 0}
    assert set(places["train"]["skipped"]) == {"data_256/c/corrupt/00000001.jpg", "data_256/g/gray/00000001.jpg"}
    train_files = places365.places365_files(places_dir, True)
    assert decoded_multiset(shard_reader.open_shards(tmp_path / "places")[0], 64 * 64) == decoded_multiset(
        sources.PhotoFiles(train_files), 64 * 64)

    cifar_splits = written(cifar_dir, tmp_path / "cifar", "cifar10", shard_size=8)["splits"]
    assert (cifar_splits["train"]["examples"], cifar_splits["validation"]["examples"]) == (25, 4)
    assert cifar_splits["train"]["skipped_counts"]["grayscale"] == 5
    assert all(name.startswith("train[") for name in cifar_splits["train"]["skipped"])
    arrays = cifar.load_split(cifar_dir, False)
    expected = Counter(image.tobytes() for image in arrays)  # PNG is lossless: the very arrays come back
    assert decoded_multiset(shard_reader.open_shards(tmp_path / "cifar")[1]) == expected


def test_a_truncated_or_damaged_shard_is_refused_naming_it(tmp_path):
    written(mixed_folder(tmp_path / "photos"), tmp_path / "shards", shard_size=5)
    shard = tmp_path / "shards" / "train-00000-of-00002.tfrecord"
    whole = shard.read_bytes()
    shard.write_bytes(whole[:-100])
    config = DataConfig(dataset="tfrecord", dataset_path=str(tmp_path / "shards"), image_size=32)
    with pytest.raises(pipelines.DatasetError, match=f"shard {shard} is {len(whole) - 100} bytes, the manifest says "
                                                f"{len(whole)}: truncated"):
        pipelines.make_pipelines(config, 2, seed=0)
    with pytest.raises(pipelines.DatasetError, match="1 of 3 shards do not match"):
        shard_reader.verify(tmp_path / "shards")

    # A manifest that agrees with the damage: reading finds the missing record and names the shard.
    manifest_path = tmp_path / "shards" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["splits"]["train"]["shards"][0]["bytes"] = len(whole) - 100
    manifest_path.write_text(json.dumps(manifest))
    pipes = pipelines.make_pipelines(config, 2, seed=0, validate=False)
    for read in (pipes.survey, lambda: list(pipes.train.take(5))):
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"shard {shard} ended after 4 readable records, "
                                                                 f"the manifest says 5: truncated or damaged"):
            read()

    flipped = bytearray(whole)  # same size, one bit off: the record's CRC fails, so does the checksum
    flipped[len(whole) // 2] ^= 1
    shard.write_bytes(bytes(flipped))
    manifest["splits"]["train"]["shards"][0]["bytes"] = len(whole)
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(pipelines.DatasetError, match=f"shard {shard}: sha256 differs"):
        shard_reader.verify(tmp_path / "shards")
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"shard {shard} ended after"):
        pipelines.make_pipelines(config, 2, seed=0, validate=False).survey()


def test_an_unfinished_write_is_not_taken_for_shards_and_is_cleaned_by_the_next_run(tmp_path):
    root = mixed_folder(tmp_path / "photos")
    output = tmp_path / "shards"
    # As a run killed while writing leaves a new folder: its staging folder, one shard named, one half written.
    staging = output / shard_folder.STAGING
    staging.mkdir(parents=True)
    (staging / "train-00000-of-00003.tfrecord").write_bytes(b"a complete shard of the killed run")
    (staging / "train-00001.tfrecord").write_bytes(b"half a shard")
    with pytest.raises(pipelines.DatasetError, match="no manifest.json, so not a complete set of shards"):
        pipelines.make_pipelines(DataConfig(dataset="tfrecord", dataset_path=str(output), image_size=32), 2, seed=0)

    manifest = written(root, output, shard_size=4)
    listed = {s["file"] for split in manifest["splits"].values() for s in split["shards"]}
    assert {p.name for p in output.iterdir()} == listed | {"manifest.json"}
    assert shard_reader.verify(output)["shards"] == len(listed)

    with pytest.raises(shards.ShardsExist, match=f"{output} already holds shards of folder at {root.resolve()}"):
        written(root, output)
    manifest = written(root, output, shard_size=20, overwrite=True)
    assert {p.name for p in output.iterdir()} == {"manifest.json", "train-00000-of-00001.tfrecord",
                                                  "validation-00000-of-00001.tfrecord"}
    assert manifest["splits"]["train"]["examples"] == 10


def test_the_tfrecord_stream_from_batch_k_is_the_uninterrupted_stream_from_k(cifar_dir, tmp_path):
    written(cifar_dir, tmp_path / "shards", "cifar10", shard_size=4)  # 25 colour photos in 7 shards
    config = DataConfig(dataset="tfrecord", dataset_path=str(tmp_path / "shards"), image_size=32, crop_scale=(0.5, 1.0))
    pipes = pipelines.make_pipelines(config, 4, seed=3, validate=False)
    assert pipes.train_examples == 25 and pipes.steps_per_epoch == 6
    whole = [batch[1].numpy() for batch in pipes.train.take(14)]
    for start in (6, 11):  # an epoch's first batch, and one within an epoch
        for a, b in zip(whole[start:], pipes.train_from(start).take(14 - start)):
            np.testing.assert_array_equal(a, b[1].numpy())
    assert not np.array_equal(whole[0], whole[6])  # epochs differ: a new order and new crops
    other_seed = pipelines.make_pipelines(config, 4, seed=4, validate=False)
    assert not np.array_equal(whole[0], next(iter(other_seed.train))[1].numpy())


def test_cli_help_usage_errors_writing_and_verifying(tmp_path, capsys, cifar_dir):
    with pytest.raises(SystemExit) as exit_info:
        shards.main(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for phrase in ("--dataset {places365,folder,cifar10}", "--shard-size N", "--verify DIR", "--overwrite",
                   "--dataset tfrecord", "manifest.json"):
        assert phrase in " ".join(help_text.split()), phrase
    with pytest.raises(SystemExit) as exit_info:
        shards.main(["--dataset", "folder", "--output", str(tmp_path)])
    assert exit_info.value.code == 2 and "needs --dataset, --dataset-path and --output" in capsys.readouterr().err

    output = tmp_path / "shards"
    argv = ["--dataset", "cifar10", "--dataset-path", str(cifar_dir), "--output", str(output), "--shard-size", "10"]
    assert shards.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "train: 25 photos in 3 shards; left out: 5 grayscale" in lines
    assert lines[-1] == f"Shards and manifest in {output} (train with --dataset tfrecord --dataset-path {output})."
    assert shards.main(argv) == 1 and "--overwrite" in capsys.readouterr().err
    assert shards.main(["--verify", str(output)]) == 0
    assert capsys.readouterr().out.startswith("All 4 shards (")
    (output / "validation-00000-of-00001.tfrecord").unlink()
    assert shards.main(["--verify", str(output)]) == 1
    assert "validation-00000-of-00001.tfrecord is missing" in capsys.readouterr().err


@pytest.mark.slow
def test_training_runs_from_shards(tmp_path, cifar_dir):
    written(cifar_dir, tmp_path / "shards", "cifar10", shard_size=8)
    run = tmp_path / "run"
    assert train.main([*TINY_TRAIN_ARGS, "--dataset", "tfrecord", "--dataset-path", str(tmp_path / "shards"),
                       "--image-size", "32", "--checkpoints-path", str(run), "--max-steps", "2", "--sample", "0"]) == 0
    saved = json.loads((run / "config.json").read_text())
    assert saved["data"]["dataset"] == "tfrecord" and saved["model"]["network_preset"] == "custom"
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("-2")
