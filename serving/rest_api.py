"""TF-Serving's REST predict format: JSON bodies <-> tensors, as its API documentation specifies.

Request: `{"signature_name": ..., "instances": [...]}` (row format: one entry per example) or
`{"signature_name": ..., "inputs": ...}` (columnar: one value per input, batch included). A
signature with a single input takes bare values; several inputs take objects keyed by input name.
String tensors accept `{"b64": "..."}` values. Response: `{"predictions": ...}` for row requests,
`{"outputs": ...}` for columnar ones; string outputs whose alias ends in `_bytes` come back as
`{"b64": "..."}`. JSON has no NaN or Infinity: such inputs are refused, such outputs are an error.
"""
from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import numpy as np
import tensorflow as tf

DEFAULT_SIGNATURE = "serving_default"
BYTES_SUFFIX = "_bytes"


class RequestError(ValueError):
    """A request TF-Serving would answer with HTTP 400; the message is the reason."""


class OutputError(ValueError):
    """The model's answer cannot be written as JSON (NaN or infinite values): a server-side error."""


_OP_ERROR_NOISE = ("Graph execution error", "Detected at node", "<stack traces unavailable>", "[[")
_ASSERTION = re.compile(r"^assertion failed: \[(.*)\]$")


def op_error_reason(message: str) -> str:
    """The human part of a TensorFlow op error (e.g. "Unknown image file format..."), without graph noise;
    a failed `tf.debugging.Assert` gives its message ("assertion failed: [a] [b]" -> "a b")."""
    lines = [line.strip() for line in message.splitlines()]
    reason = " ".join(line for line in lines if line and not line.startswith(_OP_ERROR_NOISE)) or message.strip()
    assertion = _ASSERTION.match(reason)
    return assertion[1].replace("] [", " ") if assertion else reason


def _decode_b64(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        if set(value) != {"b64"} or not isinstance(value["b64"], str):
            raise RequestError(f"Input '{name}': an object value must be {{\"b64\": \"<base64 string>\"}}")
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError) as error:
            raise RequestError(f"Input '{name}': invalid base64 ({error})") from None
    if isinstance(value, list):
        return [_decode_b64(item, name) for item in value]
    return value


def _to_array(value: Any, spec: tf.TensorSpec, name: str) -> np.ndarray:
    if spec.dtype == tf.string:
        value = _decode_b64(value, name)
        array = np.array(value, dtype=object)
        if array.size and not all(isinstance(v, (bytes, str)) for v in array.ravel()):
            raise RequestError(f"Input '{name}' expects strings (or {{\"b64\": ...}}), got {type(array.ravel()[0]).__name__}")
        return array
    if _contains_b64(value):
        raise RequestError(f"Input '{name}' is {spec.dtype.name}: b64 values are only for string inputs")
    try:
        array = np.array(value, dtype=spec.dtype.as_numpy_dtype)
    except (TypeError, ValueError, OverflowError) as error:
        raise RequestError(f"Input '{name}' could not be read as {spec.dtype.name}: {error}") from None
    if spec.dtype.is_floating and not np.isfinite(array).all():
        raise RequestError(f"Input '{name}' has NaN or infinite values")
    return array


def _contains_b64(value: Any) -> bool:
    if isinstance(value, dict):
        return "b64" in value
    return isinstance(value, list) and any(_contains_b64(v) for v in value)


def _check_shape(array: np.ndarray, spec: tf.TensorSpec, name: str) -> None:
    if not spec.shape.is_compatible_with(array.shape):
        raise RequestError(f"Input '{name}' has shape {list(array.shape)}, the signature expects {spec.shape.as_list()}")


def parse_request(body: Any, signatures: dict[str, dict[str, tf.TensorSpec]],
                  max_batch: int | None = None) -> tuple[str, dict[str, np.ndarray], bool]:
    """A decoded JSON body -> (signature name, input arrays, row format?).

    Args:
        max_batch: the most examples (instances, or the first dimension of columnar inputs) the
            signatures accept, checked before anything runs; None: no check here.

    Raises:
        RequestError: anything TF-Serving answers with a 400.
    """
    if not isinstance(body, dict):
        raise RequestError("Request body must be a JSON object")
    name = body.get("signature_name", DEFAULT_SIGNATURE)
    if name not in signatures:
        raise RequestError(f'Serving signature name: "{name}" not found in signature def')
    specs = signatures[name]
    has_rows, has_columns = "instances" in body, "inputs" in body
    if has_rows == has_columns:
        raise RequestError('Request must have exactly one of "instances" (row format) or "inputs" (columnar format)')
    if has_rows:
        instances = body["instances"]
        if not isinstance(instances, list) or not instances:
            raise RequestError('"instances" must be a non-empty list')
        _check_batch(len(instances), max_batch)
        columns = _rows_to_columns(instances, specs)
    else:
        columns = _named(body["inputs"], specs)
    arrays = {}
    for input_name, spec in specs.items():
        arrays[input_name] = _to_array(columns[input_name], spec, input_name)
        _check_shape(arrays[input_name], spec, input_name)
        if not has_rows and arrays[input_name].ndim:
            _check_batch(len(arrays[input_name]), max_batch)
    return name, arrays, has_rows


def _check_batch(size: int, max_batch: int | None) -> None:
    if max_batch is not None and size > max_batch:
        raise RequestError(f"Request has {size} examples, over this model version's limit of {max_batch} per request")


def _named(value: Any, specs: dict[str, tf.TensorSpec]) -> dict[str, Any]:
    if len(specs) == 1:
        (only,) = specs
        if isinstance(value, dict) and set(value) == {only}:
            return value
        return {only: value}
    if not isinstance(value, dict):
        raise RequestError(f"This signature has inputs {sorted(specs)}: give an object keyed by input name")
    missing, unknown = set(specs) - set(value), set(value) - set(specs)
    if missing or unknown:
        raise RequestError(f"Inputs must be exactly {sorted(specs)}; missing {sorted(missing)}, unknown {sorted(unknown)}")
    return value


def _rows_to_columns(instances: list, specs: dict[str, tf.TensorSpec]) -> dict[str, list]:
    columns: dict[str, list] = {name: [] for name in specs}
    for instance in instances:
        for name, value in _named(instance, specs).items():
            columns[name].append(value)
    return columns


def _jsonable(name: str, value: np.ndarray) -> Any:
    if np.issubdtype(value.dtype, np.floating) and not np.isfinite(value).all():
        raise OutputError(f"Output '{name}' has NaN or infinite values, which JSON cannot carry")
    if value.dtype == object:
        encode = (lambda b: {"b64": base64.b64encode(b).decode("ascii")}) if name.endswith(BYTES_SUFFIX) \
            else (lambda b: b.decode("utf-8", errors="replace"))
        return np.vectorize(encode, otypes=[object])(value).tolist() if value.ndim else encode(value.item())
    return value.tolist()


def format_response(outputs: dict[str, np.ndarray], row_format: bool) -> dict[str, Any]:
    """Output arrays -> `{"predictions": ...}` (row) or `{"outputs": ...}` (columnar)."""
    if not row_format:
        if len(outputs) == 1:
            ((name, value),) = outputs.items()
            return {"outputs": _jsonable(name, value)}
        return {"outputs": {name: _jsonable(name, value) for name, value in outputs.items()}}
    batch = {len(v) for v in outputs.values()}
    if len(batch) != 1:
        raise RequestError("Outputs have different batch sizes; use the columnar (\"inputs\") format")
    columns = {name: _jsonable(name, value) for name, value in outputs.items()}
    if len(columns) == 1:
        return {"predictions": next(iter(columns.values()))}
    return {"predictions": [{name: column[i] for name, column in columns.items()} for i in range(batch.pop())]}
