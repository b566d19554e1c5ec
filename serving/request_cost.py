"""What a request will cost in memory, known before the costly part runs: parsing its JSON, decoding its images.

Body bytes are a poor bound on either. A compact JSON array inflates about 25-fold once parsed (`[],`
is 3 bytes, an empty Python list 56 plus its slot), and a 211 KB PNG of one flat colour decodes to
50 million pixels, each costing tens of bytes while it is converted to Lab, colorized and encoded
back. So the server counts what the body can at most parse into, and the pixels its images' headers
announce (the export's `image_sizes` signature reads them without decoding), and holds both in budgets.
"""
from __future__ import annotations

import numpy as np

# Python objects a JSON value can at most take once parsed, with the slot that holds it (measured with
# tracemalloc on CPython 3.12: 67 bytes for `{"a":1}`, 50 for `[0]`, 36 for a float, 34 for `[]`).
JSON_BYTES_PER_VALUE = 96
SIZES_SIGNATURE = "image_sizes"  # `image_bytes [N]` -> `image_size [N, 2]`, read from the headers
ENCODED_INPUT = "image_bytes"


def json_values_at_most(body: bytes) -> int:
    """An upper bound on the values `json.loads(body)` creates: every value but the first follows a `,` or
    a `:`, or opens an array or object (counted in strings too, which only raises the bound)."""
    return 1 + sum(body.count(mark) for mark in (b",", b":", b"[", b"{"))


def json_parse_bytes(body: bytes) -> int:
    """The most memory parsing `body` can take beyond the body itself."""
    return JSON_BYTES_PER_VALUE * json_values_at_most(body)


def image_sizes(signatures: dict, signature: str, inputs: dict[str, np.ndarray]) -> np.ndarray | None:
    """`[N, 2]` heights and widths of the images a call of `signature` will work on, or None when they cannot
    be known before running it (encoded images, and a version exported without `image_sizes`).

    A GIF too fragmented to measure comes back as `[-1, -1]`; the call itself refuses it.

    Args:
        signatures: the loaded version's callable signatures, by name.
    """
    if ENCODED_INPUT in inputs:
        if SIZES_SIGNATURE not in signatures:
            return None
        return signatures[SIZES_SIGNATURE](image_bytes=inputs[ENCODED_INPUT])["image_size"].numpy().astype(np.int64)
    arrays = [array for array in inputs.values() if array.ndim == 4]  # [N, H, W, C] pixels, already decoded
    return np.array([array.shape[1:3] for array in arrays for _ in range(len(array))], np.int64).reshape(-1, 2)
