"""The development server over real HTTP on 127.0.0.1, driven by the REST client and raw requests."""
import base64
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

from export import __main__ as export_cli
from serving import client
from serving.devserver import DevServer, ServerLimits
from serving.model_registry import ModelRegistry
from tests.helpers import copy_exported, keras_colorized, photo_crops, save_image

pytestmark = pytest.mark.slow
MAX_BYTES = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def server(exported_base, tmp_path_factory):
    base = copy_exported(exported_base, tmp_path_factory.mktemp("served"))  # a test adds version 2 to it
    dev = DevServer(("127.0.0.1", 0), ModelRegistry("tfcolor", base), poll_seconds=0.2,
                    limits=ServerLimits(max_request_bytes=MAX_BYTES))
    thread = threading.Thread(target=dev.serve_forever, daemon=True)
    thread.start()
    dev.url = f"http://127.0.0.1:{dev.server_address[1]}"
    dev.base = base
    yield dev
    dev.shutdown()
    dev.server_close()


def request(method, url, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def b64(data: bytes) -> dict:
    return {"b64": base64.b64encode(data).decode()}


def test_client_colorizes_odd_sized_jpeg_and_png_like_the_keras_model(server, trained_run, tmp_path, capsys):
    photo = np.asarray(tf.image.resize(photo_crops(1, size=200)[0], (333, 517)), np.uint8)
    jpeg = save_image(tmp_path / "odd.jpg", photo, quality=95)
    png = save_image(tmp_path / "odd_gray.png", photo.mean(axis=-1).astype(np.uint8)[:301, :299])
    assert client.main([str(jpeg), str(png), "--url", server.url, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "odd.jpg -> " in out and " ms" in out and "Colorized 2 of 2" in out
    for source, shape in ((jpeg, (333, 517, 3)), (png, (301, 299, 3))):
        served = tf.io.decode_png((tmp_path / "out" / f"{source.stem}.png").read_bytes()).numpy()
        assert served.shape == shape
        expected = keras_colorized(trained_run, source.read_bytes())
        assert np.abs(served.astype(int) - expected.astype(int)).max() <= 1


def test_status_and_metadata_have_tf_serving_shapes(server):
    status, body = request("GET", f"{server.url}/v1/models/tfcolor")
    assert status == 200
    assert body["model_version_status"][0]["state"] == "AVAILABLE"
    assert body["model_version_status"][0]["status"] == {"error_code": "OK", "error_message": ""}
    status, body = request("GET", f"{server.url}/v1/models/tfcolor/metadata")
    assert status == 200 and body["model_spec"]["name"] == "tfcolor"
    signatures = body["metadata"]["signature_def"]
    assert signatures["@type"] == "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    default = signatures["signature_def"]["serving_default"]
    assert default["inputs"]["image_bytes"]["dtype"] == "DT_STRING"
    assert "tensor_shape" in default["outputs"]["colorized_bytes"]
    assert set(signatures["signature_def"]) == {"serving_default", "colorize_rgb", "colorize_lab",
                                                 "colorize_render_size", "image_sizes"}


def test_columnar_and_other_signatures(server):
    rgb = photo_crops(1, size=24).tolist()
    status, body = request("POST", f"{server.url}/v1/models/tfcolor:predict",
                           {"signature_name": "colorize_rgb", "inputs": {"images": rgb}})
    assert status == 200 and np.asarray(body["outputs"]).shape == (1, 24, 24, 3)
    status, body = request("POST", f"{server.url}/v1/models/tfcolor:predict",
                           {"signature_name": "colorize_lab", "instances": np.zeros((2, 16, 16, 1)).tolist()})
    assert status == 200 and np.asarray(body["predictions"]).shape == (2, 16, 16, 2)


BAD_REQUESTS = [
    ("bad json", b"{not json", "JSON Parse error"),
    ("not an object", b"[1, 2]", "must be a JSON object"),
    ("no instances", json.dumps({"signature_name": "serving_default"}).encode(), "exactly one of"),
    ("bad base64", json.dumps({"instances": [{"b64": "***"}]}).encode(), "invalid base64"),
    ("undecodable image", json.dumps({"instances": [b64(b"definitely not an image")]}).encode(), "Unknown image file format"),
    ("unknown signature", json.dumps({"signature_name": "nope", "instances": [1]}).encode(),
     'Serving signature name: "nope" not found'),
    ("wrong dtype", json.dumps({"signature_name": "colorize_rgb", "inputs": [[["a"]]]}).encode(), "could not be read as uint8"),
    ("wrong rank", json.dumps({"signature_name": "colorize_lab", "inputs": [1.0, 2.0]}).encode(), "the signature expects"),
    ("two channels", json.dumps({"signature_name": "colorize_rgb", "inputs": np.zeros((1, 4, 4, 2), int).tolist()}).encode(),
     "expects 1 or 3 channels"),
    ("too large", b"{" + b" " * (MAX_BYTES + 10) + b"}", "exceeds the limit"),
]


@pytest.mark.parametrize("name, raw, reason", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_requests_get_400_with_a_reason_and_the_server_keeps_serving(server, name, raw, reason):
    status, body = request("POST", f"{server.url}/v1/models/tfcolor:predict", raw=raw)
    assert status == 400
    assert reason in body["error"]
    status, body = request("GET", f"{server.url}/v1/models/tfcolor")
    assert status == 200


def test_unknown_models_versions_and_paths_are_404(server):
    assert request("GET", f"{server.url}/v1/models/other")[1] == {"error": "Servable not found for request: Latest(other)"}
    status, body = request("POST", f"{server.url}/v1/models/tfcolor/versions/99:predict", {"instances": [1]})
    assert status == 404 and "Specific(tfcolor, 99)" in body["error"]
    assert request("GET", f"{server.url}/v2/whatever")[0] == 404


def test_client_reports_missing_model_unreachable_server_and_timeouts(server, tmp_path):
    with pytest.raises(client.ServingError, match="model not ready or not found"):
        client.colorize(b"x", server.url, "other")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        free_port = unused.getsockname()[1]
    with pytest.raises(client.ServingError, match="cannot reach the server"):
        client.colorize(b"x", f"http://127.0.0.1:{free_port}", "tfcolor", timeout=5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(client.ServingError, match="no answer within 0.5 s"):
            client.colorize(b"x", f"http://127.0.0.1:{silent.getsockname()[1]}", "tfcolor", timeout=0.5)
    with pytest.raises(client.ServingError, match="HTTP 400: Unknown image file format"):
        client.colorize(b"not an image", server.url, "tfcolor")


def test_a_new_export_is_picked_up_as_version_2_without_restart(server, trained_run):
    assert export_cli.main(["--run", str(trained_run), "--output", str(server.base)]) == 0
    deadline = time.time() + 30
    while time.time() < deadline:
        _, body = request("GET", f"{server.url}/v1/models/tfcolor")
        if body["model_version_status"][0]["version"] == "2":
            break
        time.sleep(0.2)
    assert body["model_version_status"][0]["version"] == "2"
    encoded = tf.io.encode_png(photo_crops(1)[0]).numpy()
    status, _ = request("POST", f"{server.url}/v1/models/tfcolor/versions/2:predict", {"instances": [b64(encoded)]})
    assert status == 200


def test_the_client_never_writes_through_a_link_planted_below_its_output_folder(server, tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.png").write_bytes(b"keep me")
    photos = tmp_path / "photos"
    save_image(photos / "sub" / "a.jpg", photo_crops(1)[0])
    save_image(photos / "b.jpg", photo_crops(1, seed=1)[0])
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(outside)  # a folder the client will write into, replaced by a link
    (out / "b.png").symlink_to(outside / "victim.png")  # an output name, replaced by a link
    code = client.main([str(photos / "sub" / "a.jpg"), str(photos / "b.jpg"), "--url", server.url, "--out", str(out),
                        "--overwrite"])
    err = capsys.readouterr().err
    assert code == 1 and "is a link or not a folder; not writing through it" in err
    assert sorted(p.name for p in outside.iterdir()) == ["victim.png"]
    assert (outside / "victim.png").read_bytes() == b"keep me"
    assert not (out / "b.png").is_symlink()  # the link itself was replaced by the colorized PNG
    assert tf.io.decode_png((out / "b.png").read_bytes()).shape == (32, 32, 3)


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_the_client_colorizes_at_a_render_size_as_the_exported_signature_does(exported_base, tmp_path, protocol):
    from serving.devserver_process import ServerProcess

    photo = photo_crops(1, size=96)[0][:70, :90]
    source = save_image(tmp_path / "photo.png", photo)
    expected = tf.saved_model.load(str(exported_base / "1")).signatures["colorize_render_size"](
        image_bytes=tf.constant([source.read_bytes()]), render_size=tf.constant([48]))["colorized_bytes"][0]
    server = ServerProcess(copy_exported(exported_base, tmp_path / "models"), tmp_path / "log", ("--port", "0"))
    try:
        url = server.origin if protocol == "rest" else server.grpc_address
        assert client.main([str(source), "--out", str(tmp_path / "out"), "--url", url, "--protocol", protocol,
                            "--render-size", "48"]) == 0
        assert client.main([str(source), "--out", str(tmp_path / "bad"), "--url", url, "--protocol", protocol,
                            "--render-size", "4"]) == 1
    finally:
        server.stop()
    written = tf.io.decode_png((tmp_path / "out" / "photo.png").read_bytes()).numpy()
    np.testing.assert_array_equal(written, tf.io.decode_png(expected).numpy())
