"""One model call as both APIs (REST and gRPC) make it: its images checked against the version's limits,
its decoded pixels held in the server's budget, a model slot taken, the signature run.

The protocol layers turn what this raises into their own statuses: `RequestError` and `TooLarge` are
TF-Serving's INVALID_ARGUMENT (HTTP 400), `Overloaded` is UNAVAILABLE (HTTP 503 with `Retry-After`),
TensorFlow's op errors keep their codes.
"""
from __future__ import annotations

import time

import numpy as np

from serving import request_cost
from serving.model_registry import LoadedVersion
from serving.rest_api import RequestError
from serving.server_state import ServerState


def count_images(inputs: dict) -> int:
    return len(next(iter(inputs.values())))


def pixels_to_hold(state: ServerState, served: LoadedVersion, signature: str, inputs: dict[str, np.ndarray]) -> int:
    """The decoded pixels to hold for this call: as its images' headers say, or for a version exported without
    `image_sizes`, the most its limits allow.

    Raises:
        RequestError: an image or the request is over its version's limits (in its graph's words), found before
            the server holds anything for it.
    """
    sizes = request_cost.image_sizes(served.loaded.signatures, signature, inputs)
    limits, budget = served.limits, state.pixel_budget
    if sizes is None:
        return min(budget.limit, count_images(inputs) * limits.max_pixels if limits else budget.limit)
    pixels = np.abs(sizes).prod(axis=1)  # [-1, -1]: a GIF the graph refuses, 1 pixel until then
    if limits:
        for (height, width), count in zip(sizes, pixels):
            if count > limits.max_pixels:
                raise RequestError(f"image is {height}x{width} = {count} pixels, over the limit of {limits.max_pixels} "
                                   "pixels")
        if pixels.sum() > limits.max_request_pixels:
            raise RequestError(f"request has {len(pixels)} images of {pixels.sum()} pixels in all, over the limit of "
                               f"{limits.max_request_pixels} pixels per request")
    return int(pixels.sum())


def run(state: ServerState, served: LoadedVersion, signature: str, inputs: dict[str, np.ndarray],
        deadline: float | None = None) -> dict[str, np.ndarray]:
    """`served`'s `signature` on `inputs`, within the server's pixel budget and model slots, merged with concurrent
    calls when the server batches (`serving.batching`).

    Args:
        deadline: time.monotonic() by which the call must hold its pixels and its slot (a gRPC call's deadline);
            None: each waits up to --request_timeout_s, as REST requests do.

    Raises:
        RequestError: over the version's limits (above).
        TooLarge: the call needs more decoded pixels than the whole server budget (--max_decoded_pixels).
        Overloaded: the pixel budget or the model slots stayed taken for the queue's timeout.
        tf.errors.OpError: the signature refused the inputs or failed.
    """
    pixels = pixels_to_hold(state, served, signature, inputs)

    def in_a_slot(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with state.admission.slot(_wait_s(state.admission.queue_timeout_s, deadline)):
            return served.predict(signature, batch)

    with state.pixel_budget.reserve(pixels, _wait_s(state.limits.request_timeout_s, deadline)):
        if state.batcher is None:
            return in_a_slot(inputs)
        # Merged with concurrent calls of the same version and signature; a merged call takes one model slot.
        return state.batcher.submit((id(served), signature), inputs, in_a_slot)


def _wait_s(longest: float, deadline: float | None) -> float:
    """`longest`, or less where `deadline` (time.monotonic()) comes first; 0 once it has passed."""
    return longest if deadline is None else max(0.0, min(longest, deadline - time.monotonic()))
