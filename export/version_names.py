"""Version numbers as TF-Serving reads them: a folder name or `--version` of ASCII digits, 1 to 2**63 - 1.

TF-Serving reads a version folder's name as an int64 and skips every other name. Python's
`str.isdigit()` and `int()` accept more (`²`, other scripts' digits, `+1`, ` 1`, `1_000`, 20 digits), so
the exporter, the dev server and the client all go by this rule and no other. Standard library only:
the dev server imports it without the code that writes versions.
"""
from __future__ import annotations

import argparse

MAX_VERSION = 2**63 - 1  # int64, TF-Serving's version type
RULE = f"ASCII digits, 1 to {MAX_VERSION}"


def is_version(value: object) -> bool:
    """An int (not a bool) that TF-Serving can name a version by."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_VERSION


def parse_version(name: str) -> int | None:
    """The version a folder name or flag value stands for; None for one TF-Serving skips."""
    if not (name.isascii() and name.isdigit()) or len(name.lstrip("0")) > len(str(MAX_VERSION)):
        return None  # the length test first: int() of thousands of digits is slow, and refused past 4300
    number = int(name)
    return number if is_version(number) else None


def version_flag(text: str) -> int:
    """argparse type of `--version`: a bad value is a usage error (exit 2), as TF-Serving would skip it."""
    number = parse_version(text)
    if number is None:
        raise argparse.ArgumentTypeError(f"expected a version number TF-Serving reads ({RULE}), got {text!r}")
    return number
