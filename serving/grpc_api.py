"""TF-Serving's gRPC predict format: a `PredictRequest`'s `TensorProto` inputs <-> arrays, checked first.

Every input is checked against the signature (names, dtype, shape, the version's batch limit) and what
its array will take in memory is counted *before* `tf.make_ndarray` builds it: a `TensorProto` may
give a shape with fewer values than it holds (TensorFlow repeats the last one), so a 40-byte message
can ask for a 30 GB array. The caller holds that count in the server's body budget, then converts.
What this refuses is TF-Serving's INVALID_ARGUMENT (`RequestError`), an unknown signature its
FAILED_PRECONDITION (`MissingSignature`), in TF-Serving's words where it has them.
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2

from serving.rest_api import DEFAULT_SIGNATURE, RequestError

# What one element of a string input costs once `tf.make_ndarray` holds it: a Python bytes object (33 bytes
# beyond its contents) and the two references to it (its list and the object array it is copied into).
STRING_ELEMENT_BYTES = 64


class MissingSignature(LookupError):
    """The request names a signature the version does not have: TF-Serving's FAILED_PRECONDITION."""


def _dtype_name(enum: int) -> str:
    return types_pb2.DataType.Name(enum) if enum in types_pb2.DataType.values() else str(enum)


def array_bytes(proto: tensor_pb2.TensorProto) -> int:
    """The most memory `tf.make_ndarray(proto)` can take: its shape's elements at their size (strings: their
    contents and `STRING_ELEMENT_BYTES` each), however few values the message carries."""
    elements = math.prod(dim.size for dim in proto.tensor_shape.dim)
    if proto.dtype == types_pb2.DT_STRING:
        return sum(len(value) for value in proto.string_val) + elements * STRING_ELEMENT_BYTES
    return elements * tf.dtypes.as_dtype(proto.dtype).size


def _check_input(name: str, proto: tensor_pb2.TensorProto, spec: tf.TensorSpec, max_batch: int | None) -> None:
    if proto.dtype != spec.dtype.as_datatype_enum:
        raise RequestError(f"Input '{name}' is {_dtype_name(proto.dtype)}, the signature expects "
                           f"{_dtype_name(spec.dtype.as_datatype_enum)}")
    if proto.tensor_shape.unknown_rank:
        raise RequestError(f"Input '{name}' has no shape (unknown_rank); the signature expects {spec.shape.as_list()}")
    dims = [dim.size for dim in proto.tensor_shape.dim]
    if any(size < 0 for size in dims) or not spec.shape.is_compatible_with(dims):
        raise RequestError(f"Input '{name}' has shape {dims}, the signature expects {spec.shape.as_list()}")
    if dims and max_batch is not None and dims[0] > max_batch:
        raise RequestError(f"Request has {dims[0]} examples, over this model version's limit of {max_batch} per request")


def checked_request(request: predict_pb2.PredictRequest, signatures: dict[str, dict[str, tf.TensorSpec]],
                    output_aliases: dict[str, list[str]], max_batch: int | None = None) -> tuple[str, list[str] | None]:
    """The signature a request calls and the outputs it wants (None: all), once its inputs match the signature.

    Args:
        signatures: the version's input specs, by signature and input name.
        output_aliases: the version's output names, by signature.
        max_batch: the most examples an input's first dimension may hold; None: no check here.

    Raises:
        MissingSignature: no signature of that name.
        RequestError: inputs missing or unknown, of another dtype or shape, over `max_batch`; an unknown output
            in `output_filter`.
    """
    signature = request.model_spec.signature_name or DEFAULT_SIGNATURE
    if signature not in signatures:
        raise MissingSignature(f'Serving signature key "{signature}" not found.')
    specs = signatures[signature]
    missing, unknown = set(specs) - set(request.inputs), set(request.inputs) - set(specs)
    if missing or unknown:
        raise RequestError(f"Inputs must be exactly {sorted(specs)}; missing {sorted(missing)}, unknown {sorted(unknown)}")
    for name, spec in specs.items():
        _check_input(name, request.inputs[name], spec, max_batch)
    for alias in request.output_filter:
        if alias not in output_aliases[signature]:
            raise RequestError(f"output tensor alias not found in signature: {alias} (outputs: "
                               f"{sorted(output_aliases[signature])})")
    return signature, list(request.output_filter) or None


def to_arrays(inputs: dict[str, tensor_pb2.TensorProto]) -> dict[str, np.ndarray]:
    """Checked input protos -> arrays.

    Raises:
        RequestError: a proto whose values do not fit its shape (more values than elements, a byte string of
            another length, an integer out of its dtype's range).
    """
    arrays = {}
    for name, proto in inputs.items():
        try:
            arrays[name] = tf.make_ndarray(proto)
        except (ValueError, TypeError, OverflowError) as error:
            shape = [dim.size for dim in proto.tensor_shape.dim]
            raise RequestError(f"Input '{name}' could not be read as {_dtype_name(proto.dtype)} of shape {shape}: "
                               f"{error}") from None
    return arrays


def output_protos(outputs: dict[str, np.ndarray], wanted: list[str] | None) -> dict[str, tensor_pb2.TensorProto]:
    """The outputs a request wants (all, when `wanted` is None) as `TensorProto`s."""
    return {alias: tf.make_tensor_proto(value) for alias, value in outputs.items() if wanted is None or alias in wanted}
