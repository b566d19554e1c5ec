"""Server-side batching: concurrent calls merged into one, results split back, failures kept to their call."""
import base64
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from serving import config_schema, devserver
from serving.admission import Overloaded
from serving.batching import Batcher, BatchingParameters
from serving.model_registry import ModelRegistry
from tests.helpers import copy_exported, photo_crops
from tests.serving.test_serving_load import PREDICT, exchange, post_request, predict_body, running

SHIPPED = Path(config_schema.__file__).parent / "batching_parameters.txt"


class Recorder:
    """A model call that doubles its input and remembers the batch sizes it saw."""

    def __init__(self, fail_on: float | None = None, delay: float = 0.0):
        self.sizes, self.fail_on, self.delay = [], fail_on, delay

    def __call__(self, inputs):
        self.sizes.append(len(inputs["x"]))
        time.sleep(self.delay)
        if self.fail_on is not None and (inputs["x"] == self.fail_on).any():
            raise ValueError(f"bad value {self.fail_on}")
        return {"y": inputs["x"] * 2}


def served_png(body: bytes) -> np.ndarray:
    """The colorized image of a one-image `:predict` answer."""
    return tf.io.decode_png(base64.b64decode(json.loads(body)["predictions"][0]["colorized_bytes"]["b64"])).numpy()


def submit_together(batcher, calls):
    """Submit `calls` ((key, inputs, run) each) from one thread each, all at once; their results or errors."""
    results = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def one(index, call):
        start.wait()
        try:
            results[index] = batcher.submit(*call)
        except Exception as error:  # noqa: BLE001 - the test looks at it
            results[index] = error

    threads = [threading.Thread(target=one, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_the_shipped_parameters_are_read_with_tf_servings_meaning():
    parameters = BatchingParameters.read(SHIPPED)
    assert parameters == BatchingParameters(max_batch_size=64, batch_timeout_s=0.005, max_enqueued_batches=64,
                                            num_batch_threads=4)


def test_concurrent_calls_are_merged_into_one_and_each_gets_its_own_results():
    batcher = Batcher(BatchingParameters(max_batch_size=16, batch_timeout_s=0.5, num_batch_threads=1))
    run = Recorder()
    calls = [("m", {"x": np.full((n, 3), float(i))}, run) for i, n in enumerate([1, 2, 3, 4])]
    results = submit_together(batcher, calls)
    assert run.sizes == [10]  # one merged call of all ten examples
    for i, (result, n) in enumerate(zip(results, [1, 2, 3, 4])):
        assert np.array_equal(result["y"], np.full((n, 3), 2.0 * i))
    batcher.close()


def test_calls_whose_shapes_or_keys_differ_are_not_merged_and_a_batch_never_passes_its_size():
    batcher = Batcher(BatchingParameters(max_batch_size=4, batch_timeout_s=0.3, num_batch_threads=2))
    run = Recorder()
    calls = [("m", {"x": np.zeros((1, 3))}, run), ("m", {"x": np.zeros((1, 5))}, run),
             ("other", {"x": np.zeros((1, 3))}, run), ("m", {"x": np.zeros((3, 3))}, run),
             ("m", {"x": np.zeros((2, 3))}, run)]
    results = submit_together(batcher, calls)
    assert all(isinstance(result, dict) for result in results)
    # The 5-wide call and the other key's run alone; the six examples of the 3-wide ones take at least two calls.
    assert max(run.sizes) <= 4 and sum(run.sizes) == 8 and len(run.sizes) >= 4
    with pytest.raises(ValueError, match="Task size 5 is larger than maximum input batch size 4"):
        batcher.submit("m", {"x": np.zeros((5, 3))}, run)
    batcher.close()


def test_a_failing_merged_call_is_rerun_call_by_call_so_only_the_bad_request_fails():
    batcher = Batcher(BatchingParameters(max_batch_size=16, batch_timeout_s=0.5, num_batch_threads=1))
    run = Recorder(fail_on=7.0)
    calls = [("m", {"x": np.full((2, 1), value)}, run) for value in (1.0, 7.0, 3.0)]
    results = submit_together(batcher, calls)
    assert run.sizes[0] == 6 and sorted(run.sizes[1:]) == [2, 2, 2]
    assert np.array_equal(results[0]["y"], np.full((2, 1), 2.0))
    assert isinstance(results[1], ValueError) and "bad value 7.0" in str(results[1])
    assert np.array_equal(results[2]["y"], np.full((2, 1), 6.0))
    batcher.close()


def test_a_lone_call_waits_at_most_the_batch_timeout():
    batcher = Batcher(BatchingParameters(max_batch_size=64, batch_timeout_s=0.2, num_batch_threads=1))
    started = time.monotonic()
    assert batcher.submit("m", {"x": np.ones((1, 1))}, Recorder())["y"].tolist() == [[2.0]]
    assert 0.15 <= time.monotonic() - started < 5
    batcher.close()


def test_beyond_max_enqueued_batches_a_call_is_refused_at_once():
    batcher = Batcher(BatchingParameters(max_batch_size=1, batch_timeout_s=0.0, max_enqueued_batches=2,
                                         num_batch_threads=1))
    slow = Recorder(delay=1.0)
    results = submit_together(batcher, [("m", {"x": np.ones((1, 1))}, slow) for _ in range(6)])
    refused = [result for result in results if isinstance(result, Overloaded)]
    assert refused and "2 batches wait to run (max_enqueued_batches); retry later" in str(refused[0])
    assert all(isinstance(result, dict) for result in results if not isinstance(result, Overloaded))
    batcher.close()


@pytest.mark.slow
def test_the_dev_server_merges_concurrent_requests_into_one_call_with_each_answer_its_own(exported_base, tmp_path):
    registry = ModelRegistry("tfcolor", copy_exported(exported_base, tmp_path))
    photos = [tf.io.encode_png(photo_crops(1, size=24 + 8 * i, seed=i)[0]).numpy() for i in range(4)]
    with running(registry) as alone:
        expected = [exchange(alone.server_address[1], post_request(PREDICT, predict_body([photo])))[2]
                    for photo in photos]
    parameters = BatchingParameters(max_batch_size=64, batch_timeout_s=2.0, num_batch_threads=1)
    with running(registry, batching=parameters) as batching:
        port = batching.server_address[1]
        answers = [None] * len(photos)
        start = threading.Barrier(len(photos))

        def send(index):
            start.wait()
            answers[index] = exchange(port, post_request(PREDICT, predict_body([photos[index]])))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(photos))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        batcher = batching.state.batcher
        assert [answer[0] for answer in answers] == [200] * 4
        for answer, alone in zip(answers, expected):  # each its own photo's answer, as served alone (to rounding)
            assert np.abs(served_png(answer[2]).astype(int) - served_png(alone)).max() <= 1
        assert batcher.examples == 4 and batcher.calls < 4  # merged: fewer model calls than requests


def test_batching_flags_are_tf_servings_and_a_broken_file_is_one_error_line(tmp_path, capsys):
    broken = tmp_path / "batching.txt"
    broken.write_text("max_batch_sise { value: 8 }")
    assert devserver.main(["--model_name", "m", "--model_base_path", str(tmp_path), "--enable_batching=true",
                           "--batching_parameters_file", str(broken)]) == 1
    assert "error: batching parameters" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        devserver.main(["--model_name", "m", "--model_base_path", str(tmp_path), "--batching_parameters_file",
                        str(SHIPPED)])
    assert "--batching_parameters_file needs --enable_batching" in capsys.readouterr().err


@pytest.mark.slow
def test_a_request_of_64_images_is_answered_under_the_shipped_batching_config(exported_base, tmp_path):
    registry = ModelRegistry("tfcolor", copy_exported(exported_base, tmp_path))
    photo = tf.io.encode_png(photo_crops(1, size=16)[0]).numpy()
    with running(registry, batching=BatchingParameters.read(SHIPPED)) as batching:
        status, _, body = exchange(batching.server_address[1], post_request(PREDICT, predict_body([photo] * 64)))
        assert status == 200 and len(json.loads(body)["predictions"]) == 64
        assert batching.state.batcher.examples == 64
