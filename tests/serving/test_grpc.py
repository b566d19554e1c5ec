"""The dev server's gRPC API over real sockets on 127.0.0.1, driven by TF-Serving's own stubs
(`tensorflow_serving.apis`), not the project's code: the same answers as REST, TF-Serving's status codes,
the same limits, queue and metrics; and the client's `--protocol grpc`.

Every call has a deadline, so a hung server fails a test instead of hanging the suite.
"""
import base64
import contextlib
import json
import socket
import threading
import time
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from prometheus_client.parser import text_string_to_metric_families
from tensorflow.core.framework import tensor_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving import client
from serving.connections import ListenError
from serving.devserver import DevServer, ServerLimits
from serving.devserver_process import ServerProcess
from serving.grpc_service import start_grpc_server
from serving.limits import METRICS_PATH
from serving.model_registry import ModelRegistry
from tests.helpers import copy_exported, keras_colorized, photo_crops, save_image

pytestmark = pytest.mark.slow
MAX_BYTES = 2 * 1024 * 1024
CALL_TIMEOUT = 60.0  # seconds: far above any answer here, only there so a hung server fails instead of hangs
MAX_BATCH = 64  # the export's default --max-batch


@contextlib.contextmanager
def serving(base, **limits):
    """A dev server on free ports of 127.0.0.1: REST (`.url`) and gRPC (`.grpc_address`) on one state."""
    dev = DevServer(("127.0.0.1", 0), ModelRegistry("tfcolor", base), poll_seconds=0.2, limits=ServerLimits(**limits))
    threading.Thread(target=dev.serve_forever, daemon=True).start()
    grpc_server, port = start_grpc_server(dev.state, "127.0.0.1", 0)
    dev.url, dev.grpc_address = f"http://127.0.0.1:{dev.server_address[1]}", f"127.0.0.1:{port}"
    try:
        yield dev
    finally:
        grpc_server.stop(grace=None)
        dev.shutdown()
        dev.server_close()


@pytest.fixture(scope="module")
def server(exported_base, tmp_path_factory):
    with serving(copy_exported(exported_base, tmp_path_factory.mktemp("grpc")), max_request_bytes=MAX_BYTES) as dev:
        yield dev


@pytest.fixture(scope="module")
def channel(server):
    with grpc.insecure_channel(server.grpc_address, options=[("grpc.max_send_message_length", -1)]) as opened:
        yield opened


@pytest.fixture(scope="module")
def predict(channel):
    return prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict


def predict_request(signature: str = "serving_default", model: str = "tfcolor", **inputs) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name, request.model_spec.signature_name = model, signature
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(value if isinstance(value, tensor_pb2.TensorProto) else tf.make_tensor_proto(value))
    return request


def refused(call, request, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as failure:
        call(request, timeout=CALL_TIMEOUT, **kwargs)
    return failure.value


def encoded_photo(size: int = 32, seed: int = 0) -> bytes:
    return tf.io.encode_png(photo_crops(1, size=size, seed=seed)[0]).numpy()


def rest_png(server, image: bytes) -> bytes:
    body = json.dumps({"instances": [{"b64": base64.b64encode(image).decode()}]}).encode()
    request = urllib.request.Request(f"{server.url}/v1/models/tfcolor:predict", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=CALL_TIMEOUT) as answer:
        return base64.b64decode(json.load(answer)["predictions"][0]["colorized_bytes"]["b64"])


def test_predict_gives_the_png_rest_gives_and_the_keras_model_colorizes(predict, server, trained_run):
    photo = np.asarray(tf.image.resize(photo_crops(1, size=64)[0], (41, 57)), np.uint8)
    image = tf.io.encode_jpeg(photo, quality=95).numpy()
    response = predict(predict_request(image_bytes=np.array([image], dtype=object)), timeout=CALL_TIMEOUT)
    assert response.model_spec.name == "tfcolor" and response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"
    png = tf.make_ndarray(response.outputs["colorized_bytes"])[0]
    assert png == rest_png(server, image)
    assert tf.make_ndarray(response.outputs["image_size"]).tolist() == [[41, 57]]
    colorized = tf.io.decode_png(png).numpy()
    assert np.abs(colorized.astype(int) - keras_colorized(trained_run, image).astype(int)).max() <= 1


def test_other_signatures_and_an_output_filter_answer_as_tf_serving(predict):
    rgb = predict(predict_request("colorize_rgb", images=photo_crops(2, size=24)), timeout=CALL_TIMEOUT)
    assert tf.make_ndarray(rgb.outputs["colorized_rgb"]).shape == (2, 24, 24, 3)
    image = np.array([encoded_photo()], dtype=object)
    request = predict_request(image_bytes=image)
    request.output_filter.append("image_size")
    filtered = predict(request, timeout=CALL_TIMEOUT)
    assert list(filtered.outputs) == ["image_size"] and tf.make_ndarray(filtered.outputs["image_size"]).tolist() == [[32, 32]]


def test_metadata_lists_the_signatures_and_status_says_available(channel):
    metadata = prediction_service_pb2_grpc.PredictionServiceStub(channel).GetModelMetadata
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "tfcolor"
    answer = metadata(request, timeout=CALL_TIMEOUT)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    assert answer.metadata["signature_def"].Unpack(signatures)
    assert set(signatures.signature_def) == {"serving_default", "colorize_rgb", "colorize_lab",
                                                 "colorize_render_size", "image_sizes"}
    assert signatures.signature_def["serving_default"].inputs["image_bytes"].dtype == tf.string.as_datatype_enum
    assert answer.model_spec.version.value == 1
    assert refused(metadata, get_model_metadata_pb2.GetModelMetadataRequest(model_spec=request.model_spec)).code() \
        == grpc.StatusCode.INVALID_ARGUMENT  # no metadata_field, as TF-Serving refuses it

    status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus
    answer = status(get_model_status_pb2.GetModelStatusRequest(model_spec=request.model_spec), timeout=CALL_TIMEOUT)
    (version,) = answer.model_version_status
    assert version.version == 1 and version.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE
    assert version.status.error_code == 0 and version.status.error_message == ""


def test_unknown_models_and_versions_are_not_found_in_tf_servings_words(channel, predict):
    image = np.array([encoded_photo()], dtype=object)
    failure = refused(predict, predict_request(model="other", image_bytes=image))
    assert failure.code() == grpc.StatusCode.NOT_FOUND and failure.details() == "Servable not found for request: Latest(other)"
    request = predict_request(image_bytes=image)
    request.model_spec.version.value = 99
    failure = refused(predict, request)
    assert failure.code() == grpc.StatusCode.NOT_FOUND and "Specific(tfcolor, 99)" in failure.details()
    status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus
    missing = get_model_status_pb2.GetModelStatusRequest()
    missing.model_spec.name = "other"
    assert refused(status, missing).code() == grpc.StatusCode.NOT_FOUND


def tensor(dtype: int, dims: list[int], **values) -> tensor_pb2.TensorProto:
    """A TensorProto as a client may write it by hand: any dtype, shape and values, consistent or not."""
    proto = tensor_pb2.TensorProto(dtype=dtype, **values)
    for size in dims:
        proto.tensor_shape.dim.add().size = size
    return proto


BAD_REQUESTS = [
    ("another dtype", "colorize_rgb", {"images": np.zeros((1, 4, 4, 3), np.float32)}, grpc.StatusCode.INVALID_ARGUMENT,
     "is DT_FLOAT, the signature expects DT_UINT8"),
    ("another rank", "colorize_lab", {"l_scaled": np.zeros((2, 3), np.float32)}, grpc.StatusCode.INVALID_ARGUMENT,
     "has shape [2, 3], the signature expects [None, None, None, 1]"),
    ("an unknown input", "colorize_lab", {"l": np.zeros((1, 4, 4, 1), np.float32)}, grpc.StatusCode.INVALID_ARGUMENT,
     "missing ['l_scaled'], unknown ['l']"),
    ("an unknown signature", "nope", {"x": np.zeros(1)}, grpc.StatusCode.FAILED_PRECONDITION,
     'Serving signature key "nope" not found.'),
    ("an undecodable image", "serving_default", {"image_bytes": np.array([b"not an image"], dtype=object)},
     grpc.StatusCode.INVALID_ARGUMENT, "Unknown image file format"),
    ("a batch over the version's limit", "colorize_lab", {"l_scaled": np.zeros((MAX_BATCH + 1, 4, 4, 1), np.float32)},
     grpc.StatusCode.INVALID_ARGUMENT, f"Request has {MAX_BATCH + 1} examples, over this model version's limit of 64"),
    ("a 40 GB array from one value", "colorize_lab",
     {"l_scaled": tensor(tf.float32.as_datatype_enum, [1, 100_000, 100_000, 1], float_val=[0.0])},
     grpc.StatusCode.INVALID_ARGUMENT, "(--max_buffered_bytes)"),
    ("more values than its shape holds", "colorize_lab",
     {"l_scaled": tensor(tf.float32.as_datatype_enum, [1, 1, 1, 1], float_val=[0.0, 1.0])},
     grpc.StatusCode.INVALID_ARGUMENT, "could not be read as DT_FLOAT of shape [1, 1, 1, 1]"),
]


@pytest.mark.parametrize("name, signature, inputs, code, reason", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_inputs_get_tf_servings_status_with_a_reason_and_the_server_keeps_serving(predict, name, signature, inputs,
                                                                                    code, reason):
    failure = refused(predict, predict_request(signature, **inputs))
    assert failure.code() == code and reason in failure.details()
    image = np.array([encoded_photo()], dtype=object)
    assert predict(predict_request(image_bytes=image), timeout=CALL_TIMEOUT).outputs["colorized_bytes"].string_val


def test_a_message_over_max_request_bytes_is_resource_exhausted_before_the_server_reads_it(predict):
    failure = refused(predict, predict_request(image_bytes=np.array([b"\0" * (MAX_BYTES + 1)], dtype=object)))
    assert failure.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in failure.details()


@pytest.mark.exclusive
def test_a_busy_server_answers_unavailable_with_retry_advice_at_once(exported_base, tmp_path):
    with serving(copy_exported(exported_base, tmp_path), max_concurrent_requests=1, max_queue=0) as busy, \
            grpc.insecure_channel(busy.grpc_address) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with busy.state.admission.slot():  # the only model worker is taken, as by a long request
            started = time.monotonic()
            failure = refused(stub.Predict, predict_request(image_bytes=np.array([encoded_photo()], dtype=object)))
            assert time.monotonic() - started < 5
    assert failure.code() == grpc.StatusCode.UNAVAILABLE and "overloaded" in failure.details()
    advice = dict(failure.trailing_metadata())
    assert advice["retry-after"] == "1" and advice["grpc-retry-pushback-ms"] == "1000"


@pytest.mark.exclusive
def test_a_call_queued_past_its_deadline_leaves_the_queue_at_its_deadline_not_the_servers_timeout(exported_base, tmp_path):
    with serving(copy_exported(exported_base, tmp_path), max_concurrent_requests=1, max_queue=4,
                 request_timeout_s=60.0) as busy, grpc.insecure_channel(busy.grpc_address) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with busy.state.admission.slot():
            request = predict_request(image_bytes=np.array([encoded_photo()], dtype=object))
            with pytest.raises(grpc.RpcError) as failure:
                stub.Predict(request, timeout=0.5)
            assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            deadline = time.monotonic() + 5  # far below the 60 s a REST request would wait
            while busy.state.admission.waiting and time.monotonic() < deadline:
                time.sleep(0.05)
            assert busy.state.admission.waiting == 0


def test_metrics_count_grpc_predict_calls_under_the_grpc_entrypoint(server, predict):
    def samples() -> dict:
        with urllib.request.urlopen(server.url + METRICS_PATH, timeout=CALL_TIMEOUT) as answer:
            families = {family.name: family for family in text_string_to_metric_families(answer.read().decode())}
        latency = {s.labels["entrypoint"]: s.value for s in families[":tensorflow:serving:request_latency"].samples
                   if s.name.endswith("_count")}
        counts = {(s.labels["signature_name"], s.labels["status"]): s.value
                  for s in families["tfcolor_devserver_request_count"].samples}
        return {"latency": latency, "counts": counts}

    before = samples()
    predict(predict_request(image_bytes=np.array([encoded_photo()], dtype=object)), timeout=CALL_TIMEOUT)
    refused(predict, predict_request("colorize_rgb", images=np.zeros((1, 4, 4, 3), np.float32)))
    after = samples()
    assert after["latency"]["GRPC"] - before["latency"].get("GRPC", 0) == 2
    assert after["latency"]["REST"] == before["latency"]["REST"]
    gained = {key: value - before["counts"].get(key, 0) for key, value in after["counts"].items()}
    assert gained[("serving_default", "OK")] == 1 and gained[("", "INVALID_ARGUMENT")] == 1


def test_the_client_over_grpc_writes_the_pngs_it_writes_over_rest(server, tmp_path, capsys):
    photos = [save_image(tmp_path / "in" / "a.jpg", photo_crops(1, size=48)[0], quality=95),
              save_image(tmp_path / "in" / "sub" / "b.png", photo_crops(1, seed=3)[0])]
    for protocol, url in (("rest", server.url), ("grpc", server.grpc_address)):
        assert client.main([*map(str, photos), "--protocol", protocol, "--url", url, "--out", str(tmp_path / protocol)]) == 0
        assert "Colorized 2 of 2" in capsys.readouterr().out
    for name in ("a.png", "sub/b.png"):
        assert (tmp_path / "grpc" / name).read_bytes() == (tmp_path / "rest" / name).read_bytes()


def test_the_grpc_client_reports_missing_models_overload_and_unreachable_servers(server, exported_base, tmp_path):
    with client.grpc_colorizer(server.grpc_address, "other", timeout=CALL_TIMEOUT) as colorize_one, \
            pytest.raises(client.ServingError, match=r"model not ready or not found \(NOT_FOUND: Servable not found"):
        colorize_one(encoded_photo())
    with client.grpc_colorizer(server.grpc_address, "tfcolor", timeout=CALL_TIMEOUT) as colorize_one, \
            pytest.raises(client.ServingError, match="INVALID_ARGUMENT: .*Unknown image file format"):
        colorize_one(b"not an image")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        free_port = unused.getsockname()[1]
    with client.grpc_colorizer(f"127.0.0.1:{free_port}", "tfcolor", timeout=5) as colorize_one, \
            pytest.raises(client.ServingError, match="cannot reach the server"):
        colorize_one(encoded_photo())


def test_a_grpc_port_in_use_is_a_listen_error(server):
    with pytest.raises(ListenError, match="port .* for gRPC"):
        start_grpc_server(server.state, "127.0.0.1", int(server.grpc_address.rpartition(":")[2]))


def test_the_dev_server_command_serves_grpc_beside_rest_with_port(exported_base, tmp_path):
    process = ServerProcess(exported_base, tmp_path / "devserver.log", ("--port", "0"))
    try:
        assert process.grpc_address.startswith("127.0.0.1:")
        with grpc.insecure_channel(process.grpc_address) as channel:
            request = get_model_status_pb2.GetModelStatusRequest()
            request.model_spec.name = "tfcolor"
            answer = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request, timeout=CALL_TIMEOUT)
        assert answer.model_version_status[0].state == get_model_status_pb2.ModelVersionStatus.AVAILABLE
        with urllib.request.urlopen(f"{process.origin}/v1/models/tfcolor", timeout=CALL_TIMEOUT) as status:
            assert json.load(status)["model_version_status"][0]["state"] == "AVAILABLE"
    finally:
        process.stop()
