"""Validation of the TF-Serving config files in this folder, against TF-Serving's own field names.

`models.config` is parsed with TF-Serving's `ModelServerConfig` proto (from tensorflow-serving-api),
with the rules TF-Serving checks before serving it (unique names, absolute base paths); the dev
server reads its `--model_config_file` with the same `read_model_config`.
That package does not ship the batching-parameters or monitoring protos, so their schemas are
declared here from TF-Serving's documented fields (`BatchingParameters` in
session_bundle_config.proto, `MonitoringConfig` in monitoring_config.proto); a misspelt or unknown
field fails `text_format.Parse` just as it would make `tensorflow_model_server` refuse to start.

    python -m serving.config_schema            # checks serving/*.config and batching_parameters.txt
"""
from __future__ import annotations

import sys
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format, wrappers_pb2
from tensorflow_serving.config import model_server_config_pb2

HERE = Path(__file__).parent
_F = descriptor_pb2.FieldDescriptorProto
_WRAPPED = {"int64": ".google.protobuf.Int64Value", "string": ".google.protobuf.StringValue",
            "bool": ".google.protobuf.BoolValue"}
BATCHING_FIELDS = {
    # name: (kind, repeated) - kind "int64"/"string"/"bool" as wrapper messages, "plain_*" as scalars.
    "max_batch_size": ("int64", False),
    "batch_timeout_micros": ("int64", False),
    "max_enqueued_batches": ("int64", False),
    "num_batch_threads": ("int64", False),
    "thread_pool_name": ("string", False),
    "allowed_batch_sizes": ("plain_int64", True),
    "pad_variable_length_inputs": ("plain_bool", False),
    "enable_large_batch_splitting": ("bool", False),
    "max_execution_batch_size": ("int64", False),
    "batch_padding_policy": ("string", False),
}


def _schema_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    schema = descriptor_pb2.FileDescriptorProto(
        name="tfcolor_serving_schema.proto", package="tfcolor.serving", syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    batching = schema.message_type.add(name="BatchingParameters")
    for number, (name, (kind, repeated)) in enumerate(BATCHING_FIELDS.items(), start=1):
        field = batching.field.add(name=name, number=number)
        field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
        if kind.startswith("plain_"):
            field.type = _F.TYPE_INT64 if kind == "plain_int64" else _F.TYPE_BOOL
        else:
            field.type, field.type_name = _F.TYPE_MESSAGE, _WRAPPED[kind]
    prometheus = schema.message_type.add(name="PrometheusConfig")
    prometheus.field.add(name="enable", number=1, type=_F.TYPE_BOOL, label=_F.LABEL_OPTIONAL)
    prometheus.field.add(name="path", number=2, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    monitoring = schema.message_type.add(name="MonitoringConfig")
    monitoring.field.add(name="prometheus_config", number=1, type=_F.TYPE_MESSAGE, label=_F.LABEL_OPTIONAL,
                         type_name=".tfcolor.serving.PrometheusConfig")
    pool.Add(schema)
    return pool


_POOL = _schema_pool()
BatchingParameters = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("tfcolor.serving.BatchingParameters"))
MonitoringConfig = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("tfcolor.serving.MonitoringConfig"))


class ModelConfigError(ValueError):
    """A `--model_config_file` that cannot be read, or that TF-Serving would refuse; the message names the file."""


def parse_model_config(text: str) -> model_server_config_pb2.ModelServerConfig:
    """Parse a `--model_config_file`; raises `text_format.ParseError` on unknown fields or bad values, and
    ValueError (in TF-Serving's words where it has them) on a model without a name or base path, a name listed
    twice, or a relative base path (TF-Serving takes only absolute paths or URIs)."""
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    names = set()
    for model in config.model_config_list.config:
        if not model.name or not model.base_path:
            raise ValueError(f"every model needs a name and a base_path, got: {text_format.MessageToString(model)!r}")
        if model.name in names:
            raise ValueError(f"Illegal to list model {model.name} multiple times in config list")
        names.add(model.name)
        if not (model.base_path.startswith("/") or "://" in model.base_path):
            raise ValueError(f"Expected model {model.name} to have an absolute path or URI; got "
                             f"base_path()={model.base_path}")
    return config


def read_model_config(path: Path) -> model_server_config_pb2.ModelServerConfig:
    """The `--model_config_file` at `path`, parsed and checked as `parse_model_config` does.

    Raises:
        ModelConfigError: the file cannot be read, does not parse (text_format's message, with its line and
            column) or breaks one of TF-Serving's rules.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ModelConfigError(f"cannot read the model config {path}: {error}") from None
    try:
        return parse_model_config(text)
    except (text_format.ParseError, ValueError) as error:
        raise ModelConfigError(f"model config {path}: {error}") from None


def single_model_config(name: str, base_path: str) -> model_server_config_pb2.ModelServerConfig:
    """The config `--model_name`/`--model_base_path` stand for, as TF-Serving builds it: one model, default policy."""
    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.config.add(name=name, base_path=base_path, model_platform="tensorflow")
    return config


def parse_batching_parameters(text: str):
    """Parse a `--batching_parameters_file` and check the rules TF-Serving enforces at start-up."""
    params = text_format.Parse(text, BatchingParameters())
    if params.HasField("num_batch_threads") and params.num_batch_threads.value < 1:
        raise ValueError("num_batch_threads must be >= 1")
    sizes = list(params.allowed_batch_sizes)
    if sizes and (sizes != sorted(sizes) or sizes[-1] != params.max_batch_size.value):
        raise ValueError("allowed_batch_sizes must increase and end with max_batch_size")
    return params


def parse_monitoring_config(text: str):
    """Parse a `--monitoring_config_file`; the Prometheus path must be absolute."""
    config = text_format.Parse(text, MonitoringConfig())
    path = config.prometheus_config.path
    if path and not path.startswith("/"):
        raise ValueError(f"prometheus_config.path must start with '/', got {path!r}")
    return config


def check_folder(folder: Path = HERE) -> list[str]:
    """Parse the deployment's three config files; returns one line per file checked."""
    checks = [
        ("models.config", parse_model_config),
        ("batching_parameters.txt", parse_batching_parameters),
        ("monitoring.config", parse_monitoring_config),
    ]
    return [f"{name}: ok ({type(parse((folder / name).read_text(encoding='utf-8'))).__name__})" for name, parse in checks]


def main() -> int:
    try:
        for line in check_folder():
            print(line)
    except (text_format.ParseError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
