"""The dev server's gRPC API: TF-Serving's `tensorflow.serving.PredictionService` (`Predict`,
`GetModelMetadata`) and `tensorflow.serving.ModelService` (`GetModelStatus`), served with grpcio on the
same `ServerState` as the REST API, so both share the models, limits, admission queue, budgets and metrics.

    server, port = start_grpc_server(state, "127.0.0.1", 8500)   # python -m serving.devserver --port 8500

Statuses are TF-Serving's: INVALID_ARGUMENT for what REST answers with 400 (and FAILED_PRECONDITION for
an unknown signature, as its gRPC API says), NOT_FOUND, UNAVAILABLE with retry advice when the queue or
a budget is full (trailing metadata `retry-after` in seconds, as HTTP's header, and
`grpc-retry-pushback-ms`, which gRPC's own retry policies read), DEADLINE_EXCEEDED when the call's
deadline passes while it waits. gRPC itself answers RESOURCE_EXHAUSTED to a message over
`--max_request_bytes` and to calls beyond its worker pool (the admission queue's size plus a few for
status and metadata calls, so no call waits for a thread). The other methods (Classify, Regress,
MultiInference, HandleReloadConfigRequest) answer UNIMPLEMENTED.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from concurrent import futures

import grpc
import tensorflow as tf
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving import grpc_api, model_protos, prediction
from serving.admission import Overloaded, TooLarge
from serving.connections import ListenError
from serving.limits import RETRY_AFTER_SECONDS
from serving.log_lines import escape
from serving.model_registry import LoadedVersion
from serving.rest_api import RequestError, op_error_reason
from serving.server_state import NotFound, ServerState

ENTRYPOINT = "GRPC"  # the `entrypoint` label TF-Serving gives gRPC requests in its latency histogram
SPARE_WORKERS = 4  # threads beyond the admission queue's, for status and metadata calls while predictions wait
MAX_SEND_MESSAGE_BYTES = 2**31 - 1  # as TF-Serving: an answer is bounded by the request's limits, not here
RETRY_ADVICE = (("retry-after", str(RETRY_AFTER_SECONDS)), ("grpc-retry-pushback-ms", str(RETRY_AFTER_SECONDS * 1000)))

# Exceptions of the server's own layers -> the status TF-Serving answers them with (looked up along the MRO;
# a model lookup's NotFound carries its own code).
STATUS_OF = {
    grpc_api.MissingSignature: grpc.StatusCode.FAILED_PRECONDITION,
    RequestError: grpc.StatusCode.INVALID_ARGUMENT,
    TooLarge: grpc.StatusCode.INVALID_ARGUMENT,
    Overloaded: grpc.StatusCode.UNAVAILABLE,
}

logger = logging.getLogger(__name__)


class Refusal(Exception):
    """An answer other than OK: its status, its details, and whether it carries retry advice."""

    def __init__(self, code: grpc.StatusCode, details: str, retry: bool = False):
        super().__init__(details)
        self.code, self.details, self.retry = code, details, retry


def refusal(error: Exception) -> Refusal | None:
    """The status for what the server's layers raise (TensorFlow's op errors keep their own code); None for a
    surprise, which is INTERNAL."""
    if isinstance(error, Refusal):
        return error
    if isinstance(error, NotFound):  # NOT_FOUND, or INVALID_ARGUMENT for a label the model does not have
        return Refusal(grpc.StatusCode[getattr(error, "code", "NOT_FOUND")], str(error))
    if isinstance(error, tf.errors.OpError):
        return Refusal(grpc.StatusCode[error_codes_pb2.Code.Name(error.error_code)], op_error_reason(error.message))
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            code = STATUS_OF[kind]
            return Refusal(code, str(error), retry=code == grpc.StatusCode.UNAVAILABLE)
    return None


def _addressed(spec: model_pb2.ModelSpec) -> tuple[str, int | None, str | None]:
    """A ModelSpec -> (name, version or None, label or None): `version` and `version_label` are a oneof."""
    choice = spec.WhichOneof("version_choice")
    return (spec.name, spec.version.value if choice == "version" else None,
            spec.version_label if choice == "version_label" else None)


@dataclasses.dataclass
class _Call:
    """What one call learns on its way that its metrics need."""

    signature: str = ""  # "" until the request names a valid one, as REST counts it


class _Calls:
    """What every method shares: the state, and turning what a call raises into its status and log line."""

    def __init__(self, state: ServerState):
        self.state = state

    def find(self, spec: model_pb2.ModelSpec) -> LoadedVersion:
        name, version, label = _addressed(spec)
        return self.state.find(name, version, label)

    def answer(self, method: str, context: grpc.ServicerContext, work: Callable[[_Call], object], record: bool = False):
        """`work(call)`'s answer, or the call aborted with the status of what it raised; with `record` (a `Predict`
        of the model the metrics are of), counted in the metrics, as REST counts `:predict`."""
        started, call = time.monotonic(), _Call()
        try:
            response = work(call)
            code, failed = grpc.StatusCode.OK, None
        except Exception as error:
            failed = refusal(error)
            if failed is None:
                logger.exception("gRPC %s from %s failed", method, context.peer())
                failed = Refusal(grpc.StatusCode.INTERNAL,
                                 f"Internal error ({type(error).__name__}); the server log has details")
            code = failed.code
        if record:
            self.state.metrics.record_code(call.signature, code.name, time.monotonic() - started, ENTRYPOINT)
        if self.state.verbose:
            logger.info("gRPC %s from %s -> %s in %.0f ms", method, context.peer(), code.name,
                        (time.monotonic() - started) * 1000)
        if failed is None:
            return response
        self._log_refusal(method, context.peer(), failed)
        if failed.retry:
            context.set_trailing_metadata(RETRY_ADVICE)
        context.abort(failed.code, failed.details)

    def _log_refusal(self, method: str, peer: str, failed: Refusal) -> None:
        """As REST's: client errors at most a few lines a second per client, overload at DEBUG, the rest as errors."""
        client_side = failed.code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
                                      grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.DEADLINE_EXCEEDED)
        if client_side:
            held = self.state.refusal_log.admit((failed.code.name, peer.rpartition(":")[0]))
            if held is None:
                return
            if held:
                logger.warning("%s: %d similar lines (gRPC %s) suppressed", peer, held, failed.code.name)
        level = logging.WARNING if client_side else logging.DEBUG if failed.retry else logging.ERROR
        logger.log(level, "gRPC %s from %s -> %s: %s", method, peer, failed.code.name, escape(failed.details[:500]))


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """`Predict` and `GetModelMetadata` on the server's state."""

    def __init__(self, state: ServerState):
        self._calls = _Calls(state)
        self.state = state

    def Predict(self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext) -> predict_pb2.PredictResponse:
        return self._calls.answer("Predict", context, lambda call: self._predict(request, context, call),
                                  record=request.model_spec.name == self.state.metrics.model_name)

    def _predict(self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext,
                 call: _Call) -> predict_pb2.PredictResponse:
        remaining = context.time_remaining()
        deadline = None if remaining is None else time.monotonic() + remaining
        served = self._calls.find(request.model_spec)
        aliases = {name: list(definition.outputs) for name, definition in served.signature_defs.items()}
        max_batch = served.limits.max_batch if served.limits else None
        signature, wanted = grpc_api.checked_request(request, served.input_specs, aliases, max_batch)
        call.signature = signature
        with contextlib.ExitStack() as held:
            try:  # the message (already read by gRPC) and the arrays it will make, in the budget REST bodies share
                held.enter_context(self.state.body_budget.reserve(
                    request.ByteSize() + sum(grpc_api.array_bytes(proto) for proto in request.inputs.values())))
            except TooLarge as error:
                raise RequestError(f"{error} (--max_buffered_bytes)") from None
            inputs = grpc_api.to_arrays(dict(request.inputs))
            try:
                outputs = prediction.run(self.state, served, signature, inputs, deadline)
            except TooLarge as error:
                raise RequestError(f"{error} (--max_decoded_pixels)") from None
            except Overloaded as error:
                if deadline is not None and time.monotonic() >= deadline:
                    raise Refusal(grpc.StatusCode.DEADLINE_EXCEEDED, f"Deadline exceeded while queued: {error}") from None
                raise
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = served.version
        response.model_spec.signature_name = signature
        for alias, proto in grpc_api.output_protos(outputs, wanted).items():
            response.outputs[alias].CopyFrom(proto)
        return response

    def GetModelMetadata(self, request: get_model_metadata_pb2.GetModelMetadataRequest,
                         context: grpc.ServicerContext) -> get_model_metadata_pb2.GetModelMetadataResponse:
        def work(_call: _Call) -> get_model_metadata_pb2.GetModelMetadataResponse:
            if not request.metadata_field:
                raise RequestError("GetModelMetadataRequest must specify at least one metadata_field")
            for field in request.metadata_field:
                if field != model_protos.SIGNATURE_DEF_FIELD:
                    raise RequestError(f"Metadata field {field} is not supported")
            return model_protos.metadata_response(request.model_spec.name, self._calls.find(request.model_spec))

        return self._calls.answer("GetModelMetadata", context, work)


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """`GetModelStatus` on the server's state (a label is read as the version it names)."""

    def __init__(self, state: ServerState):
        self._calls = _Calls(state)
        self.state = state

    def GetModelStatus(self, request: get_model_status_pb2.GetModelStatusRequest,
                       context: grpc.ServicerContext) -> get_model_status_pb2.GetModelStatusResponse:
        def work(_call: _Call) -> get_model_status_pb2.GetModelStatusResponse:
            name, version, label = _addressed(request.model_spec)
            if label is not None:
                version = self.state.find(name, label=label).version
            return model_protos.status_response(self.state.statuses(name, version))

        return self._calls.answer("GetModelStatus", context, work)


def grpc_address(host: str, port: int) -> str:
    """`host:port` as gRPC writes it: IPv6 addresses in brackets, "" (every address) as `[::]`."""
    host = host or "::"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def start_grpc_server(state: ServerState, host: str, port: int, max_workers: int | None = None) -> tuple[grpc.Server, int]:
    """Serve the two services on `host:port` (0: any free port) within `state`'s limits; the started server and
    its port. `server.stop(grace)` ends it.

    Args:
        max_workers: calls handled at once, each on its own thread; beyond, RESOURCE_EXHAUSTED at once.
            Defaults to the admission queue (`max_concurrent_requests` + `max_queue`) plus `SPARE_WORKERS`.

    Raises:
        ListenError: the address cannot be bound (not this machine's, the port in use or out of range).
    """
    limits = state.limits
    workers = max_workers or limits.max_concurrent_requests + limits.max_queue + SPARE_WORKERS
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
        maximum_concurrent_rpcs=workers,
        options=[("grpc.max_receive_message_length", limits.max_request_bytes),
                 ("grpc.max_send_message_length", MAX_SEND_MESSAGE_BYTES),
                 ("grpc.so_reuseport", 0)])  # a port in use is an error, not shared with another server
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(state), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(state), server)
    address = grpc_address(host, port)
    try:
        bound = server.add_insecure_port(address) if 0 <= port <= 65535 else 0
    except RuntimeError:  # grpcio >= 1.53 raises where older ones returned 0
        bound = 0
    if not bound:
        server.stop(None)
        raise ListenError(f"cannot listen on {host!r} port {port} for gRPC (not this machine's address, a port in use "
                          "or out of range)")
    server.start()
    return server, bound
