"""The shipped batching parameters agree with what the export accepts, and a batch is one network call
whose results do not depend on their batch-mates."""
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from export.limits import Limits
from serving import config_schema
from tests.helpers import photo_crops

SERVING = Path(config_schema.__file__).parent


def test_tf_serving_batches_hold_every_request_the_export_accepts():
    batching = config_schema.parse_batching_parameters((SERVING / "batching_parameters.txt").read_text())
    # TF-Serving refuses a task larger than max_batch_size: below --max-batch it would refuse valid requests.
    assert batching.max_batch_size.value == Limits().max_batch
    assert not batching.allowed_batch_sizes or max(batching.allowed_batch_sizes) == Limits().max_batch


@pytest.mark.slow
def test_a_batch_of_photos_of_different_sizes_is_colorized_as_each_alone(exported_base):
    loaded = tf.saved_model.load(str(exported_base / "1"))
    rng = np.random.default_rng(3)
    photos = [tf.image.resize(photo_crops(1, size=48, seed=i)[0], shape).numpy().astype(np.uint8)
              for i, shape in enumerate([(40, 60), (33, 33), (70, 28), (32, 32)])]
    photos[2] = (photos[2] * 0 + rng.integers(0, 255, photos[2].shape)).astype(np.uint8)  # a noisy batch-mate
    pngs = [tf.io.encode_png(photo).numpy() for photo in photos]
    together = loaded.signatures["serving_default"](image_bytes=tf.constant(pngs))
    assert together["image_size"].numpy().tolist() == [list(photo.shape[:2]) for photo in photos]
    for png, colorized in zip(pngs, together["colorized_bytes"].numpy()):
        alone = loaded.signatures["serving_default"](image_bytes=tf.constant([png]))["colorized_bytes"][0].numpy()
        # The same image through the same graph; only the batch differs, which may change the order of a
        # convolution's sums on some CPUs: one uint8 step of rounding at most.
        difference = tf.io.decode_png(colorized).numpy().astype(int) - tf.io.decode_png(alone).numpy()
        assert np.abs(difference).max() <= 1


CONVOLUTIONS = ("Conv2D", "Conv2DBackpropInput", "_FusedConv2D", "DepthwiseConv2dNative")


def called_functions(function) -> set[str]:
    """The library functions a function's nodes call, directly (as ops) or through function attributes."""
    called = set()
    for node in function.node_def:
        called.add(node.op)
        for value in node.attr.values():
            if value.HasField("func"):
                called.add(value.func.name)
    return called


@pytest.mark.slow
def test_the_generator_runs_once_per_call_whatever_the_number_of_photos(exported_base):
    """No convolution of the serving graph is reachable from a loop body (the per-image `map_fn`s): the network
    runs on the whole batch at once, outside them."""
    loaded = tf.saved_model.load(str(exported_base / "1"))
    library = {f.signature.name: f for f in loaded.signatures["serving_default"].graph.as_graph_def().library.function}
    reachable, frontier = set(), [name for name in library if "while_body" in name]
    assert frontier  # the per-image decoding and joining loops
    while frontier:
        name = frontier.pop()
        if name in reachable or name not in library:
            continue
        reachable.add(name)
        frontier.extend(called_functions(library[name]))
    in_loops = sum(node.op in CONVOLUTIONS for name in reachable for node in library[name].node_def)
    everywhere = sum(node.op in CONVOLUTIONS for function in library.values() for node in function.node_def)
    assert everywhere > 0 and in_loops == 0
