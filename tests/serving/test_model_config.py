"""One `models.config` for TF-Serving and the dev server (issue 22, item 2): several models, version policies,
version labels and a config file re-read while serving, over real HTTP on 127.0.0.1."""
from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving import config_schema, devserver
from serving.devserver import DevServer
from serving.model_registry import VersionPolicy
from serving.model_set import ModelSet, Volume, host_path
from tests.helpers import copy_exported, photo_crops

SHIPPED_CONFIG = Path(config_schema.__file__).parent / "models.config"
POLL_SECONDS = 0.1
WAIT_SECONDS = 60.0  # far above any load here (a tiny SavedModel), only there so a stuck server fails instead of hangs
ANSWER_TIMEOUT = 60.0


def request(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=ANSWER_TIMEOUT) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def states(url: str, model: str) -> dict[int, str]:
    """Version -> state, as the status endpoint reports them."""
    status, body = request("GET", f"{url}/v1/models/{model}")
    assert status == 200, body
    return {int(s["version"]): s["state"] for s in body["model_version_status"]}


def metadata_version(url: str) -> int:
    """The version a metadata URL (/v1/models/<m>[/versions/<v>|/labels/<l>]/metadata) is answered by."""
    status, body = request("GET", url)
    assert status == 200, body
    return int(body["model_spec"]["version"])


def predict(url: str) -> int:
    encoded = tf.io.encode_png(photo_crops(1)[0]).numpy()
    body = {"instances": [{"b64": base64.b64encode(encoded).decode()}]}
    return request("POST", url, body)[0]


def wait_for(condition, timeout: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def add_version(base: Path, version: int) -> None:
    """Version `version` beside version 1 (a copy of it), appearing complete, as an export makes it appear."""
    staging = base / f".copying-{version}"
    shutil.copytree(base / "1", staging)
    os.rename(staging, base / str(version))


def write_config(path: Path, text: str) -> None:
    """The config file replaced whole, as an editor that saves atomically does, so no poll reads half of it."""
    staging = path.with_name(f".{path.name}.new")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)


def model_entry(name: str, base: Path, policy: str = "", labels: dict[str, int] | None = None) -> str:
    labels_text = " ".join(f'version_labels {{ key: "{k}" value: {v} }}' for k, v in (labels or {}).items())
    policy_text = f"model_version_policy {{ {policy} }}" if policy else ""
    return f'config {{ name: "{name}" base_path: "{base}" model_platform: "tensorflow" {policy_text} {labels_text} }}'


def config_text(*entries: str) -> str:
    return "model_config_list { " + " ".join(entries) + " }"


@contextlib.contextmanager
def serving(models: ModelSet):
    server = DevServer(("127.0.0.1", 0), models, poll_seconds=POLL_SECONDS)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def served_from(config_file: Path) -> ModelSet:
    """The models of `config_file` as the command line builds them, the file re-read every POLL_SECONDS."""
    args = devserver.build_parser().parse_args(["--model_config_file", str(config_file),
                                                "--model_config_file_poll_wait_seconds", str(POLL_SECONDS)])
    return devserver.serving_models(args)


@pytest.fixture
def base(exported_base, tmp_path) -> Path:
    """A private base path holding version 1."""
    return copy_exported(exported_base, tmp_path / "models")


def test_volumes_map_container_paths_to_host_folders_and_leave_other_paths_as_they_are(tmp_path):
    volumes = [Volume.parse(f"{tmp_path}/models:/models:ro"), Volume.parse(f"{tmp_path}/special:/models/special")]
    assert volumes[0] == Volume(tmp_path / "models", PurePosixPath("/models"))
    assert host_path("/models/tfcolor", volumes) == tmp_path / "models" / "tfcolor"
    assert host_path("/models/special/v", volumes) == tmp_path / "special" / "v"  # the deeper mount wins
    assert host_path("/modelsx/tfcolor", volumes) == Path("/modelsx/tfcolor")
    for bad in ("models", "models:relative", ":/models", "a:b:/c"):
        with pytest.raises(Exception, match="HOST_DIR:CONTAINER_DIR"):
            Volume.parse(bad)


def test_version_policies_read_from_the_stock_proto_name_the_versions_tf_serving_serves():
    def policy(text: str) -> VersionPolicy:
        entry = text_format.Parse(f'name: "m" base_path: "/m" {text}', model_server_config_pb2.ModelConfig())
        return VersionPolicy.from_proto(entry.model_version_policy)

    assert policy("") == VersionPolicy(latest=1)
    assert policy("model_version_policy { latest { } }") == VersionPolicy(latest=1)  # num_versions 0 counts as 1
    assert policy("model_version_policy { latest { num_versions: 2 } }") == VersionPolicy(latest=2)
    assert policy("model_version_policy { all { } }").candidates([1, 3, 2]) == [3, 2, 1]
    specific = policy("model_version_policy { specific { versions: 1 versions: 3 } }")
    assert specific.candidates([4, 3, 2, 1]) == [3, 1] and specific.latest is None
    assert str(specific) == "specific { versions: 1 versions: 3 }"


@pytest.mark.slow
def test_the_shipped_models_config_is_served_with_the_containers_mount_given_as_a_volume(base):
    models_dir = base.parent  # <tmp>/models/tfcolor/1: the layout docker-compose.yml mounts at /models
    args = devserver.build_parser().parse_args(["--model_config_file", str(SHIPPED_CONFIG),
                                                "--volume", f"{models_dir}:/models"])
    models = devserver.serving_models(args)
    assert models.names() == ["tfcolor"] and models.get("tfcolor").base_path == base
    with serving(models) as url:
        assert states(url, "tfcolor") == {1: "AVAILABLE"}
        assert predict(f"{url}/v1/models/tfcolor:predict") == 200


@pytest.mark.slow
def test_latest_two_serves_the_two_newest_versions_and_a_third_export_unloads_the_oldest(base, tmp_path):
    add_version(base, 2)
    config = tmp_path / "models.config"
    write_config(config, config_text(model_entry("tfcolor", base, "latest { num_versions: 2 }")))
    with serving(served_from(config)) as url:
        assert states(url, "tfcolor") == {2: "AVAILABLE", 1: "AVAILABLE"}
        assert metadata_version(f"{url}/v1/models/tfcolor/metadata") == 2  # no version: the newest served
        assert metadata_version(f"{url}/v1/models/tfcolor/versions/1/metadata") == 1
        add_version(base, 3)
        assert wait_for(lambda: states(url, "tfcolor") == {3: "AVAILABLE", 2: "AVAILABLE", 1: "END"})
        assert predict(f"{url}/v1/models/tfcolor/versions/1:predict") == 404
        assert predict(f"{url}/v1/models/tfcolor/versions/2:predict") == 200


@pytest.mark.slow
def test_specific_versions_serves_exactly_those_beside_a_second_model(base, tmp_path):
    add_version(base, 2)
    add_version(base, 3)
    other = copy_exported(base, tmp_path / "other")  # versions 1 to 3 too, under another name
    config = tmp_path / "models.config"
    write_config(config, config_text(model_entry("tfcolor", base),
                                     model_entry("other", other, "specific { versions: 1 versions: 3 versions: 9 }")))
    models = served_from(config)
    assert models.names() == ["tfcolor", "other"]
    with serving(models) as url:
        assert states(url, "tfcolor") == {3: "AVAILABLE"}
        assert states(url, "other") == {3: "AVAILABLE", 1: "AVAILABLE"}  # 2 never loaded; 9 has no folder
        assert predict(f"{url}/v1/models/other/versions/1:predict") == 200
        assert request("GET", f"{url}/v1/models/other/versions/2")[0] == 404


@pytest.mark.slow
def test_labels_address_versions_for_status_metadata_and_predict_as_tf_serving_does(base, tmp_path):
    add_version(base, 2)
    config = tmp_path / "models.config"
    write_config(config, config_text(model_entry("tfcolor", base, "all { }",
                                                 {"stable": 1, "canary": 2, "next": 3})))
    with serving(served_from(config)) as url:
        labels = f"{url}/v1/models/tfcolor/labels"
        assert metadata_version(f"{labels}/stable/metadata") == 1
        assert metadata_version(f"{labels}/canary/metadata") == 2
        assert predict(f"{labels}/stable:predict") == 200
        status, body = request("GET", f"{labels}/stable")
        assert status == 200 and [s["version"] for s in body["model_version_status"]] == ["1"]
        status, body = request("POST", f"{labels}/nope:predict", {"instances": [1]})
        assert (status, body) == (400, {"error": "Unrecognized servable version label: nope"})
        assert request("GET", f"{labels}/nope")[0] == 400
        status, body = request("GET", f"{labels}/next/metadata")  # a label on a version with no folder
        assert (status, body) == (404, {"error": "Servable not found for request: Specific(tfcolor, 3)"})


@pytest.mark.slow
def test_removing_the_newest_version_folder_unloads_it_and_the_previous_one_serves_again(base, tmp_path):
    add_version(base, 2)
    config = tmp_path / "models.config"
    write_config(config, config_text(model_entry("tfcolor", base)))  # the default policy: latest 1
    with serving(served_from(config)) as url:
        assert states(url, "tfcolor") == {2: "AVAILABLE"}
        shutil.rmtree(base / "2")
        assert wait_for(lambda: states(url, "tfcolor") == {2: "END", 1: "AVAILABLE"})
        assert metadata_version(f"{url}/v1/models/tfcolor/metadata") == 1
        assert predict(f"{url}/v1/models/tfcolor/versions/2:predict") == 404
        status, body = request("GET", f"{url}/v1/models/tfcolor/versions/2")
        assert body["model_version_status"][0]["status"] == {"error_code": "OK", "error_message": ""}


@pytest.mark.slow
def test_an_edited_config_file_changes_policies_labels_and_models_while_serving(base, tmp_path):
    add_version(base, 2)
    other = copy_exported(base, tmp_path / "other")
    config = tmp_path / "models.config"
    write_config(config, config_text(model_entry("tfcolor", base)))
    with serving(served_from(config)) as url:
        assert states(url, "tfcolor") == {2: "AVAILABLE"}
        write_config(config, config_text(model_entry("tfcolor", base, "specific { versions: 1 }", {"stable": 1}),
                                         model_entry("other", other)))
        assert wait_for(lambda: states(url, "tfcolor") == {2: "END", 1: "AVAILABLE"})
        assert wait_for(lambda: request("GET", f"{url}/v1/models/other")[0] == 200)
        assert states(url, "other") == {2: "AVAILABLE"}
        assert metadata_version(f"{url}/v1/models/tfcolor/labels/stable/metadata") == 1
        write_config(config, config_text(model_entry("tfcolor", base, "specific { versions: 1 }")))
        assert wait_for(lambda: states(url, "other") == {2: "END"})  # removed from the config: unloaded
        assert predict(f"{url}/v1/models/other:predict") == 404
        assert request("GET", f"{url}/v1/models/tfcolor/labels/stable")[0] == 400  # the label went with it


def test_a_malformed_config_file_stops_the_server_at_start_with_the_parsers_message(tmp_path, capsys):
    config = tmp_path / "models.config"
    cases = {
        'model_config_list { config { nam: "tfcolor" base_path: "/models/tfcolor" } }':
            'has no field named "nam"',
        'model_config_list { config { name: "tfcolor" base_path: "models/tfcolor" } }':
            "Expected model tfcolor to have an absolute path or URI; got base_path()=models/tfcolor",
        'model_config_list { config { name: "a" base_path: "/a" } config { name: "a" base_path: "/b" } }':
            "Illegal to list model a multiple times in config list",
        "": "no model is listed",
    }
    for text, reason in cases.items():
        config.write_text(text, encoding="utf-8")
        assert devserver.main(["--model_config_file", str(config), "--rest_api_port", "0"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: model config {config}: ") and reason in err[0], err
    assert devserver.main(["--model_config_file", str(tmp_path / "missing.config")]) == 1
    assert "cannot read the model config" in capsys.readouterr().err
    for flags in ([], ["--model_name", "tfcolor"], ["--model_config_file", str(config), "--model_base_path", "/m"]):
        with pytest.raises(SystemExit) as exit_info:
            devserver.main(flags)
        assert exit_info.value.code == 2 and "--model_config_file" in capsys.readouterr().err


@pytest.mark.slow
def test_a_malformed_config_at_a_poll_is_logged_once_and_the_previous_config_keeps_serving(base, tmp_path, caplog):
    caplog.set_level(logging.ERROR, logger="serving.model_set")
    add_version(base, 2)
    config = tmp_path / "models.config"
    write_config(config, config_text(model_entry("tfcolor", base)))
    with serving(served_from(config)) as url:
        assert states(url, "tfcolor") == {2: "AVAILABLE"}
        write_config(config, config_text(model_entry("tfcolor", base, "specific { versions: 1 }")).replace("name:", "nam:", 1))
        assert wait_for(lambda: caplog.records)
        time.sleep(10 * POLL_SECONDS)  # ten more polls of the same broken file
        assert states(url, "tfcolor") == {2: "AVAILABLE"}
        assert len(caplog.records) == 1
        assert 'has no field named "nam"' in caplog.records[0].getMessage()
        assert "still serving the previous model config" in caplog.records[0].getMessage()
        write_config(config, config_text(model_entry("tfcolor", base, "specific { versions: 1 }")))  # fixed
        assert wait_for(lambda: states(url, "tfcolor") == {2: "END", 1: "AVAILABLE"})
