"""The TF-Serving deployment files parse with TF-Serving's field names, so a typo fails here."""
import re
from pathlib import Path

import pytest
import yaml
from google.protobuf import text_format

from serving import config_schema

SERVING = Path(config_schema.__file__).parent


def test_the_deployment_configs_are_valid():
    lines = config_schema.check_folder()
    assert len(lines) == 3 and all(line.endswith(")") for line in lines)
    model = config_schema.parse_model_config((SERVING / "models.config").read_text()).model_config_list.config[0]
    assert model.name == "tfcolor" and model.base_path == "/models/tfcolor"
    assert model.model_version_policy.latest.num_versions == 1
    batching = config_schema.parse_batching_parameters((SERVING / "batching_parameters.txt").read_text())
    assert batching.max_batch_size.value > 0 and batching.num_batch_threads.value >= 1
    monitoring = config_schema.parse_monitoring_config((SERVING / "monitoring.config").read_text())
    assert monitoring.prometheus_config.enable and monitoring.prometheus_config.path == "/monitoring/prometheus/metrics"


@pytest.mark.parametrize("parse, text", [
    (config_schema.parse_model_config, 'model_config_list { config { nam: "tfcolor" base_path: "/m" } }'),
    (config_schema.parse_model_config,
     'model_config_list { config { name: "x" base_path: "/m" model_version_policy { newest {} } } }'),
    (config_schema.parse_batching_parameters, "max_batch_sise { value: 8 }"),
    (config_schema.parse_batching_parameters, "max_batch_size: 8"),
    (config_schema.parse_monitoring_config, "prometheus_config { enabled: true }"),
])
def test_typos_fail_to_parse(parse, text):
    with pytest.raises(text_format.ParseError):
        parse(text)


def test_rules_tf_serving_checks_at_start_up():
    with pytest.raises(ValueError, match="end with max_batch_size"):
        config_schema.parse_batching_parameters("max_batch_size { value: 8 } allowed_batch_sizes: 2 allowed_batch_sizes: 4")
    with pytest.raises(ValueError, match="num_batch_threads"):
        config_schema.parse_batching_parameters("num_batch_threads { value: 0 }")
    with pytest.raises(ValueError, match="must start with '/'"):
        config_schema.parse_monitoring_config('prometheus_config { enable: true path: "metrics" }')
    with pytest.raises(ValueError, match="name and a base_path"):
        config_schema.parse_model_config('model_config_list { config { name: "x" } }')
    with pytest.raises(ValueError, match="Illegal to list model x multiple times"):
        config_schema.parse_model_config('model_config_list { config { name: "x" base_path: "/a" } '
                                         'config { name: "x" base_path: "/b" } }')
    with pytest.raises(ValueError, match=r"absolute path or URI; got base_path\(\)=models/x"):
        config_schema.parse_model_config('model_config_list { config { name: "x" base_path: "models/x" } }')
    assert config_schema.parse_model_config('model_config_list { config { name: "x" base_path: "gs://b/x" } }')


def test_the_one_model_flags_stand_for_the_config_tf_serving_builds_from_them():
    config = config_schema.single_model_config("tfcolor", "/models/tfcolor")
    assert text_format.MessageToString(config, as_one_line=True) == (
        'model_config_list { config { name: "tfcolor" base_path: "/models/tfcolor" model_platform: "tensorflow" } }')


def test_dockerfile_pins_the_image_and_ships_every_file_it_names():
    dockerfile = (SERVING / "Dockerfile").read_text()
    assert re.search(r"^FROM tensorflow/serving:\d+\.\d+\.\d+$", dockerfile, re.M)
    copied = re.search(r"^COPY (.+) /config/$", dockerfile, re.M).group(1).split()
    named = re.findall(r"--\w+_file=/config/([\w.]+)", dockerfile)
    assert sorted(named) == sorted(copied)
    assert all((SERVING / name).is_file() for name in copied)
    assert "--enable_batching=true" in dockerfile and "--rest_api_port=8501" in dockerfile


def test_compose_mounts_the_models_where_models_config_looks():
    compose = yaml.safe_load((SERVING / "docker-compose.yml").read_text())
    service = compose["services"]["tfcolor-serving"]
    assert service["build"] == "." and "8501:8501" in service["ports"]
    mounts = {volume.split(":")[1] for volume in service["volumes"]}
    base_path = config_schema.parse_model_config((SERVING / "models.config").read_text()).model_config_list.config[0].base_path
    assert any(base_path.startswith(mount + "/") for mount in mounts)
