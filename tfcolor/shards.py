"""`python -m tfcolor.shards`: a photo dataset written as TFRecord shards, for `--dataset tfrecord`.

    python -m tfcolor.shards --dataset places365 --dataset-path data/places365 --output data/places365-shards
    python -m tfcolor.shards --verify data/places365-shards

Shards hold a few hundred photos each, read in long sequential runs: Places365 is 1.8 million files,
and opening each one costs more than reading it on network and cold disks. What is written, and how
atomically: `tfcolor.data.shard_writer`; how training reads and checks it: `tfcolor.data.shard_reader`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tfcolor.config import flags
from tfcolor.data.shard_folder import ForeignFile, ShardsExist
from tfcolor.data.shard_reader import MANIFEST, verify
from tfcolor.data.shard_writer import DEFAULT_SHARD_SIZE, SOURCE_DATASETS, DiskFull, write_shards
from tfcolor.data.skips import REASONS, DatasetError

__all__ = ["DEFAULT_SHARD_SIZE", "DiskFull", "ForeignFile", "ShardsExist", "build_parser", "main", "write_shards"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tfcolor.shards",
        description="Write a photo dataset as TFRecord shards (the photos' own encoded bytes) with a manifest, "
                    "for training with --dataset tfrecord --dataset-path DIR; or verify written shards.",
        epilog="Corrupt, grayscale and oversized photos are left out and listed in DIR/manifest.json with "
               "their reason. The new shards are written beside what DIR holds and swapped in once complete: a "
               "failed, killed or out-of-space run leaves DIR as it was, and only files a manifest of ours lists "
               "are ever replaced (another tool's file with a shard's name stops the run).")
    parser.add_argument("--dataset", choices=SOURCE_DATASETS, help="the source dataset's layout (as for training)")
    parser.add_argument("--dataset-path", metavar="SRC", help="where the source dataset lives")
    parser.add_argument("--output", metavar="DIR", help="folder for the shards and manifest.json")
    parser.add_argument("--shard-size", type=flags.positive_int, default=DEFAULT_SHARD_SIZE, metavar="N",
                        help=f"photos per shard (default {DEFAULT_SHARD_SIZE})")
    flags.add_max_pixels_flag(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a complete set of shards in DIR (the new set is written beside it, so the disk "
                             "needs room for both)")
    parser.add_argument("--verify", metavar="DIR",
                        help="instead of writing: check every shard of DIR against its manifest (size and full "
                             "sha256; training checks sizes and record counts)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verify and (args.dataset or args.dataset_path or args.output):
        parser.error("--verify DIR checks written shards; it takes no --dataset, --dataset-path or --output")
    if not args.verify and not (args.dataset and args.dataset_path and args.output):
        parser.error("writing shards needs --dataset, --dataset-path and --output (or give --verify DIR)")
    try:
        if args.verify:
            checked = verify(args.verify)
            print(f"All {checked['shards']} shards ({checked['bytes']} bytes) match {Path(args.verify) / MANIFEST}.")
            return 0
        manifest = write_shards(args.dataset, args.dataset_path, args.output, args.shard_size, args.max_pixels,
                                args.overwrite, progress=print)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for split, entry in manifest["splits"].items():
        left_out = ", ".join(f"{n} {REASONS[kind]}" for kind, n in entry["skipped_counts"].items() if n)
        print(f"{split}: {entry['examples']} photos in {len(entry['shards'])} shards"
              + (f"; left out: {left_out}" if left_out else ""))
    print(f"Shards and manifest in {args.output} (train with --dataset tfrecord --dataset-path {args.output}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
