"""A development server with TF-Serving's REST surface, for machines that cannot run its container.

    python -m serving.devserver --model_name tfcolor --model_base_path models/tfcolor --rest_api_port 8501

Production uses the real `tensorflow/serving` container (serving/Dockerfile). This server answers
the part of its REST API the project uses, with the same JSON shapes and error bodies:

    POST /v1/models/<name>[/versions/<v>]:predict     row ("instances") or columnar ("inputs")
    GET  /v1/models/<name>[/versions/<v>]              version status
    GET  /v1/models/<name>[/versions/<v>]/metadata     signature definitions

It serves the newest version under the base path and picks up newly exported versions without a
restart. Bad requests get HTTP 400 `{"error": "<reason>"}` and never stop the server.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

from serving import rest_api
from serving.model_registry import LoadedVersion, ModelRegistry

DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024
# Oversized bodies are drained up to this multiple of the limit before answering, beyond it cut off.
DISCARD_LIMIT_FACTOR = 4
_ROUTE = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?(?P<rest>/metadata|:predict)?$")


_OP_ERROR_NOISE = ("Graph execution error", "Detected at node", "<stack traces unavailable>", "[[")


def op_error_reason(message: str) -> str:
    """The human part of a TensorFlow op error (e.g. "Unknown image file format..."), without graph noise."""
    lines = [line.strip() for line in message.splitlines()]
    reason = [line for line in lines if line and not line.startswith(_OP_ERROR_NOISE)]
    return " ".join(reason) or message.strip()


def status_json(served: LoadedVersion) -> str:
    response = get_model_status_pb2.GetModelStatusResponse()
    status = response.model_version_status.add()
    status.version = served.version
    status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
    status.status.SetInParent()  # error_code OK, error_message "": printed, as TF-Serving does
    return json_format.MessageToJson(response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def metadata_json(name: str, served: LoadedVersion) -> str:
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = name
    response.model_spec.version.value = served.version
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    for key, definition in served.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(definition)
    response.metadata["signature_def"].Pack(signature_map)
    return json_format.MessageToJson(response, preserving_proto_field_name=True)


class ServingHandler(BaseHTTPRequestHandler):
    """One request; the registry and limits live on the server object."""

    server: "DevServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: str) -> None:
        payload = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str) -> None:
        self._send(status, json.dumps({"error": message}))

    def _route(self):
        match = _ROUTE.match(self.path.split("?", 1)[0])
        if not match:
            self._error(HTTPStatus.NOT_FOUND, f"Malformed request: {self.command} {self.path}")
            return None
        name, version = match["name"], int(match["version"]) if match["version"] else None
        registry = self.server.registry
        served = registry.get(version) if name == registry.name else None
        if served is None:
            wanted = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
            self._error(HTTPStatus.NOT_FOUND, f"Servable not found for request: {wanted}")
            return None
        return match["rest"], served

    def _discard_body(self, length: int) -> None:
        """Read and drop an oversized body (up to a bound) so the client, still sending, gets our answer."""
        remaining = min(length, DISCARD_LIMIT_FACTOR * self.server.max_request_bytes)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)

    def do_GET(self):
        routed = self._route()
        if routed is None:
            return
        rest, served = routed
        if rest == ":predict":
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "Use POST for :predict")
        elif rest == "/metadata":
            self._send(HTTPStatus.OK, metadata_json(self.server.registry.name, served))
        else:
            self._send(HTTPStatus.OK, status_json(served))

    def do_POST(self):
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._error(HTTPStatus.LENGTH_REQUIRED, "Content-Length header is required")
            return
        if int(length) > self.server.max_request_bytes:
            self.close_connection = True
            self._discard_body(int(length))
            self._error(HTTPStatus.BAD_REQUEST,
                        f"Request body of {length} bytes exceeds the limit of {self.server.max_request_bytes} bytes")
            return
        body = self.rfile.read(int(length))
        routed = self._route()
        if routed is None:
            return
        rest, served = routed
        if rest != ":predict":
            self._error(HTTPStatus.NOT_FOUND, f"Malformed request: POST {self.path}")
            return
        try:
            request = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            self._error(HTTPStatus.BAD_REQUEST, f"JSON Parse error: {error}")
            return
        try:
            signature, inputs, row_format = rest_api.parse_request(request, served.input_specs)
            outputs = served.predict(signature, inputs)
            self._send(HTTPStatus.OK, json.dumps(rest_api.format_response(outputs, row_format)))
        except rest_api.RequestError as error:
            self._error(HTTPStatus.BAD_REQUEST, str(error))
        except tf.errors.InvalidArgumentError as error:
            self._error(HTTPStatus.BAD_REQUEST, op_error_reason(error.message))
        except (ValueError, TypeError) as error:
            self._error(HTTPStatus.BAD_REQUEST, str(error))


class DevServer(ThreadingHTTPServer):
    """The HTTP server plus the model registry and the thread that watches for new versions."""

    daemon_threads = True

    def __init__(self, address, registry: ModelRegistry, poll_seconds: float = 1.0,
                 max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES, verbose: bool = False):
        super().__init__(address, ServingHandler)
        self.registry = registry
        self.max_request_bytes = max_request_bytes
        self.verbose = verbose
        self._stop_polling = threading.Event()
        registry.refresh()
        self._poller = threading.Thread(target=registry.poll, args=(poll_seconds, self._stop_polling), daemon=True)
        self._poller.start()

    def server_close(self):
        self._stop_polling.set()
        super().server_close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m serving.devserver",
        description="Development server with TF-Serving's REST API (production: the tensorflow/serving container).",
    )
    parser.add_argument("--model_name", required=True, help="name in /v1/models/<name>")
    parser.add_argument("--model_base_path", required=True, help="folder holding numbered version folders")
    parser.add_argument("--rest_api_port", type=int, default=8501, help="port of the REST API")
    parser.add_argument("--rest_api_host", default="127.0.0.1", help="address to bind (development default: loopback only)")
    parser.add_argument("--file_system_poll_wait_seconds", type=float, default=1.0,
                        help="how often to look for new versions")
    parser.add_argument("--max_request_bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES,
                        help="larger request bodies are refused with HTTP 400")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    registry = ModelRegistry(args.model_name, args.model_base_path)
    server = DevServer((args.rest_api_host, args.rest_api_port), registry, args.file_system_poll_wait_seconds,
                       args.max_request_bytes, args.verbose)
    current = registry.current()
    state = f"version {current.version}" if current else f"no version yet under {args.model_base_path}"
    host, port = server.server_address[:2]
    print(f"Serving {args.model_name} ({state}) at http://{host}:{port}/v1/models/{args.model_name}", flush=True)
    with server, contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops it; leaving the block closes it
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
