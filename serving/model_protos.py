"""TF-Serving's status and metadata answers as its own protos, built one way for both APIs: gRPC sends them
as they are (`serving.grpc_service`), REST prints them as JSON (`serving.handler`), as TF-Serving's
REST API prints the same protos.
"""
from __future__ import annotations

from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

from serving.model_registry import LoadedVersion, VersionStatus

SIGNATURE_DEF_FIELD = "signature_def"  # the one metadata field TF-Serving (and this server) answers


def status_response(statuses: list[VersionStatus]) -> get_model_status_pb2.GetModelStatusResponse:
    """One `ModelVersionStatus` per version, in the order given: its state and error status."""
    response = get_model_status_pb2.GetModelStatusResponse()
    for found in statuses:
        status = response.model_version_status.add()
        status.version = found.version
        status.state = get_model_status_pb2.ModelVersionStatus.State.Value(found.state)
        status.status.error_code = error_codes_pb2.Code.Value(found.error_code)
        status.status.error_message = found.error_message
    return response


def metadata_response(name: str, served: LoadedVersion) -> get_model_metadata_pb2.GetModelMetadataResponse:
    """`served`'s signature definitions as a `SignatureDefMap` packed under "signature_def", with its model spec."""
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = name
    response.model_spec.version.value = served.version
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, definition in served.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(definition)
    response.metadata[SIGNATURE_DEF_FIELD].Pack(signature_map)
    return response
