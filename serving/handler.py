"""One HTTP connection of the dev server: TF-Serving's REST routes, and an answer to every request.

Whatever a request holds (broken JSON, JSON nested 100 000 deep, a version number of 5000 digits, a
body that never arrives) and whatever goes wrong inside, the client gets an HTTP status with a JSON
`{"error": ...}` body, and the server logs a line; only a request that never finishes arriving is
closed without one, once its deadline has passed. What the client sent is escaped in the log
(`serving.log_lines`), so one request is one line, and refusals (4xx) log a few lines a second per
client at most.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import socket
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

import tensorflow as tf
from google.protobuf import json_format

from export.version_names import MAX_VERSION
from serving import metrics, model_protos, prediction, request_cost, rest_api, try_page
from serving.admission import Overloaded, TooLarge
from serving.connections import DeadlineReader
from serving.limits import DISCARD_LIMIT_FACTOR, METRICS_PATH, RETRY_AFTER_SECONDS
from serving.log_lines import escape
from serving.model_registry import LoadedVersion, VersionStatus
from serving.server_state import NotFound, ServerState

_ROUTE = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[0-9]+)|/labels/(?P<label>[^/:]+))?"
                    r"(?P<rest>/metadata|:predict)?$")
# The HTTP status of each canonical code a model lookup (ServerState.find, .statuses) refuses with.
_LOOKUP_STATUS = {"NOT_FOUND": HTTPStatus.NOT_FOUND, "INVALID_ARGUMENT": HTTPStatus.BAD_REQUEST}

logger = logging.getLogger(__name__)


class HttpError(Exception):
    """An answer other than 200: the status, the reason for the JSON body, extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def status_json(statuses: list[VersionStatus]) -> str:
    response = model_protos.status_response(statuses)  # "" and OK are printed too, as TF-Serving does
    return json_format.MessageToJson(response, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def metadata_json(name: str, served: LoadedVersion) -> str:
    return json_format.MessageToJson(model_protos.metadata_response(name, served), preserving_proto_field_name=True)


class ServingHandler(BaseHTTPRequestHandler):
    """The requests of one connection; the registry, limits and metrics are the server's `state`, read here
    without knowing the server's class."""

    state: ServerState
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # a request line too broken to name a version still gets a status line

    def setup(self):
        self.state = self.server.state
        self.timeout = self.state.limits.request_timeout_s  # per socket operation; the deadline bounds the whole request
        super().setup()
        # An answer goes out as two writes (headers, then body): with Nagle's algorithm on, the body waits for
        # the client's delayed ACK of the headers, ~40 ms on Linux, on every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile.close()  # replaced by a reader that enforces the request's deadline
        self._reader = DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self):
        self._reader.deadline = time.monotonic() + self.state.limits.request_timeout_s
        super().handle_one_request()

    def _request_received(self) -> None:
        """The whole request is in: from now on only the per-operation timeout applies (to writing the answer)."""
        self._reader.deadline = None
        self.connection.settimeout(self.timeout)

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        if self.state.verbose:
            logger.info("%s %s", self.address_string(), escape(format % args))

    def send_error(self, code, message=None, explain=None):
        """The base class's refusals (malformed request line, oversized headers, unknown method), as JSON too."""
        self.close_connection = True
        self._error(code, message or HTTPStatus(code).phrase)

    def _send(self, status: int, body: str, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self._status = status
        payload = body.encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
        except OSError as error:  # the client left or stopped reading: nobody to answer
            self.close_connection = True
            logger.debug("could not answer %s: %s", self.client_address, error)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._log_refusal(status, message)
        self._send(status, json.dumps({"error": message}), headers=headers)

    def _log_refusal(self, status: int, message: str) -> None:
        """One line, the client's text escaped; a 4xx line only while its client is under the rate limit, and the
        first after a pause says how many were held back."""
        level = logging.ERROR if status >= 500 and status != 503 else logging.DEBUG if status == 503 else logging.WARNING
        if 400 <= status < 500:
            client = self.client_address[0]
            held = self.state.refusal_log.admit((status, client))
            if held is None:
                return
            if held:
                logger.log(level, "%s: %d similar lines (HTTP %d) suppressed", client, held, status)
        logger.log(level, "%s %s -> %d: %s", escape(getattr(self, "command", None) or "-"),
                   escape(_shorten(getattr(self, "path", ""))), status, escape(_shorten(message, 500)))

    def do_GET(self):
        self._answer(self._get)

    def do_POST(self):
        self._answer(self._post)

    def _answer(self, work: Callable[[], None]) -> None:
        """Run `work`; turn whatever it raises into a JSON answer; count `:predict` requests."""
        started = time.monotonic()
        self._status, self._signature = None, None  # _signature: set ("" until known) for :predict on our model
        self._discard_after_answer = 0
        self._held = contextlib.ExitStack()  # what the request holds until it is answered (its body's bytes)
        try:
            work()
        except HttpError as error:
            self._error(error.status, error.message, error.headers)
        except Exception as error:
            logger.exception("%s %s failed", escape(self.command), escape(_shorten(self.path)))
            self.close_connection = True
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"Internal error ({type(error).__name__}); the server log has details")
        finally:
            self._held.close()
        if self._signature is not None and self._status is not None:
            self.state.metrics.record(self._signature, self._status, time.monotonic() - started)
        if self._discard_after_answer:
            self._discard_body(self._discard_after_answer)

    def _route(self) -> tuple[str | None, str, int | None, str | None]:
        """The path -> (route suffix: None, "/metadata" or ":predict"; model name; version or None; label or None)."""
        match = _ROUTE.match(self.path.split("?", 1)[0])
        if not match:
            raise HttpError(HTTPStatus.NOT_FOUND, f"Malformed request: {self.command} {_shorten(self.path)}")
        digits = match["version"]
        significant = (digits or "").lstrip("0") or "0"
        if len(significant) > len(str(MAX_VERSION)) or int(significant) > MAX_VERSION:  # int() only of short ones
            raise HttpError(HTTPStatus.BAD_REQUEST, f"Version {_shorten(digits, 24)} is not a 64-bit integer")
        return match["rest"], match["name"], int(significant) if digits else None, match["label"]

    def _served(self, name: str, version: int | None, label: str | None) -> LoadedVersion:
        try:
            return self.state.find(name, version, label)
        except NotFound as error:
            raise HttpError(_LOOKUP_STATUS[error.code], str(error)) from None

    def _get(self) -> None:
        self._request_received()
        path = self.path.split("?", 1)[0]
        if path == METRICS_PATH:
            self._send(HTTPStatus.OK, self.state.metrics.render(), metrics.CONTENT_TYPE)
            return
        if path in try_page.PATHS:
            self._send(HTTPStatus.OK, try_page.render(self.state.model_names()[0]), try_page.CONTENT_TYPE,
                       try_page.HEADERS)
            return
        rest, name, version, label = self._route()
        if rest is None:
            try:
                statuses = self.state.statuses(name, version, label)
            except NotFound as error:
                raise HttpError(_LOOKUP_STATUS[error.code], str(error)) from None
            self._send(HTTPStatus.OK, status_json(statuses))
            return
        served = self._served(name, version, label)
        if rest == ":predict":
            raise HttpError(HTTPStatus.METHOD_NOT_ALLOWED, "Use POST for :predict")
        self._send(HTTPStatus.OK, metadata_json(name, served))

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length", "")
        limit = self.state.limits.max_request_bytes
        if not (length.isascii() and length.isdigit()):  # "²".isdigit(), but int() refuses it
            self.close_connection = True
            raise HttpError(HTTPStatus.LENGTH_REQUIRED, "Content-Length header is required")
        if len(length) > len(str(limit)) or int(length) > limit:
            self.close_connection = True
            self._discard_after_answer = DISCARD_LIMIT_FACTOR * limit if len(length) > 18 else int(length)
            raise HttpError(HTTPStatus.BAD_REQUEST,
                            f"Request body of {_shorten(length, 24)} bytes exceeds the limit of {limit} bytes")
        try:
            self._held.enter_context(self.state.body_budget.reserve(int(length)))
        except Overloaded as error:
            self.close_connection = True
            self._discard_after_answer = int(length)
            raise HttpError(HTTPStatus.SERVICE_UNAVAILABLE, str(error), {"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
        try:
            body = self.rfile.read(int(length))
        except TimeoutError:
            self.close_connection = True
            raise HttpError(HTTPStatus.REQUEST_TIMEOUT, f"Request body of {length} bytes not received within "
                            f"{self.state.limits.request_timeout_s:g} s") from None
        if len(body) < int(length):
            self.close_connection = True
            raise HttpError(HTTPStatus.BAD_REQUEST, f"Request body ended after {len(body)} of {length} bytes")
        self._request_received()
        return body

    def _discard_body(self, length: int) -> None:
        """Read and drop (after answering) an oversized body, up to a bound and within the request's deadline,
        so that the client, still sending, reads our answer instead of a reset."""
        remaining = min(length, DISCARD_LIMIT_FACTOR * self.state.limits.max_request_bytes)
        with contextlib.suppress(OSError):  # TimeoutError at the deadline, or the client gone
            while remaining > 0:
                chunk = self.rfile.read1(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)

    def _post(self) -> None:
        try:
            rest, name, version, label = self._route()
        except HttpError:
            self._read_body()  # read (or refused, when too large) before the routing error is answered
            raise
        if rest == ":predict" and name == self.state.metrics.model_name:  # the metrics are the first model's
            self._signature = ""  # counted in the metrics from here on, refusals of its body included
        body = self._read_body()
        if rest != ":predict":
            raise HttpError(HTTPStatus.NOT_FOUND, f"Malformed request: POST {_shorten(self.path)}")
        served = self._served(name, version, label)
        try:
            payload = self._predict(served, body)
        except Overloaded as error:
            raise HttpError(HTTPStatus.SERVICE_UNAVAILABLE, str(error), {"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
        self._send(HTTPStatus.OK, payload)

    def _parse_json(self, body: bytes) -> object:
        """`body` parsed, once the memory that can take is held in the body budget (beside the body itself)."""
        budget, parse_bytes = self.state.body_budget, request_cost.json_parse_bytes(body)
        if len(body) + parse_bytes > budget.limit:
            raise HttpError(HTTPStatus.BAD_REQUEST, f"Request JSON has up to {request_cost.json_values_at_most(body)} "
                            f"values; with its body that can take {len(body) + parse_bytes} bytes to parse, over this "
                            f"server's --max_buffered_bytes of {budget.limit}")
        self._held.enter_context(budget.reserve(parse_bytes))
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise HttpError(HTTPStatus.BAD_REQUEST, f"JSON Parse error: {error}") from None
        except RecursionError:
            raise HttpError(HTTPStatus.BAD_REQUEST, "JSON Parse error: nested too deeply") from None

    def _predict(self, served: LoadedVersion, body: bytes) -> str:
        """The JSON answer to a `:predict` body, or HttpError with TF-Serving's status for it.

        Raises:
            Overloaded: the decoded-pixel budget or the model slots stayed full for the queue's timeout.
        """
        request = self._parse_json(body)
        try:
            max_batch = served.limits.max_batch if served.limits else None
            signature, inputs, row_format = rest_api.parse_request(request, served.input_specs, max_batch)
            self._signature = signature
            outputs = prediction.run(self.state, served, signature, inputs)
            return json.dumps(rest_api.format_response(outputs, row_format), allow_nan=False)
        except TooLarge as error:
            raise HttpError(HTTPStatus.BAD_REQUEST, f"{error} (--max_decoded_pixels)") from None
        except rest_api.OutputError as error:
            raise HttpError(HTTPStatus.INTERNAL_SERVER_ERROR, str(error)) from None
        except RecursionError:
            raise HttpError(HTTPStatus.BAD_REQUEST, "Request is nested too deeply") from None
        except tf.errors.InvalidArgumentError as error:
            raise HttpError(HTTPStatus.BAD_REQUEST, rest_api.op_error_reason(error.message)) from None
        except tf.errors.OpError as error:
            raise HttpError(HTTPStatus.INTERNAL_SERVER_ERROR, rest_api.op_error_reason(error.message)) from None
        except (ValueError, TypeError) as error:  # RequestError included
            raise HttpError(HTTPStatus.BAD_REQUEST, str(error)) from None
