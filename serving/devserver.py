"""A development server with TF-Serving's REST surface, for machines that cannot run its container.

    python -m serving.devserver --model_name tfcolor --model_base_path models/tfcolor --rest_api_port 8501
    python -m serving.devserver --model_config_file serving/models.config --volume models:/models

Production uses the real `tensorflow/serving` container (serving/Dockerfile). This server answers
the part of its REST API the project uses, with the same JSON shapes and error bodies:

    POST /v1/models/<name>[/versions/<v>|/labels/<l>]:predict     row ("instances") or columnar ("inputs")
    GET  /v1/models/<name>[/versions/<v>|/labels/<l>]              version status (with load errors)
    GET  /v1/models/<name>[/versions/<v>|/labels/<l>]/metadata     signature definitions
    GET  /monitoring/prometheus/metrics                Prometheus metrics, under TF-Serving's names
    GET  / (or /index.html)                            a page to try the model in a browser (`serving.try_page`)

With `--port`, its gRPC API as well (`serving.grpc_service`: Predict, GetModelMetadata, GetModelStatus), on
the same models, limits, queue and metrics.

It serves the models a TF-Serving `--model_config_file` lists (`serving.model_set`: version policies,
labels, the file re-read every `--model_config_file_poll_wait_seconds`), or the one `--model_name` and
`--model_base_path` name (its newest version), and picks up newly exported versions, and removed
ones, without a restart.
It stays up and answers under load and hostile input: every limit is in `ServerLimits`,
and every request gets an HTTP answer with a JSON `{"error": ...}` body when it is refused.
`--rest_api_host` takes an IPv4 or IPv6 address (`::1`, `::`) or a host name.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import socket
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

from serving import config_schema
from serving.batching import BatchingParameters
from serving.connections import LingeringCloser, ListenError, canned_response
from serving.grpc_service import grpc_address, start_grpc_server
from serving.handler import ServingHandler
from serving.limits import RETRY_AFTER_SECONDS, ServerLimits
from serving.model_registry import ModelRegistry
from serving.model_set import ModelSet, Volume
from serving.server_state import ServerState

logger = logging.getLogger("serving.devserver")  # not __name__: that is "__main__" under `python -m`


def listening_address(host: str, port: int) -> tuple[socket.AddressFamily, tuple]:
    """The socket family and address for `host` (an IPv4 or IPv6 address, or a name; "" for every address):
    the socket must be of the address's family, which `socketserver` fixes at IPv4 unless told.

    Raises:
        OSError: `host` does not resolve, or `port` is not a port (getaddrinfo would take 70000 for 4464).
    """
    if not 0 <= port <= 65535:
        raise OSError(f"a port is 0 (any free one) to 65535, not {port}")
    family, _, _, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                                  flags=socket.AI_PASSIVE)[0]
    return family, address


class DevServer(ThreadingHTTPServer):
    """The HTTP server: its shared `state` for the handlers, the connection cap, and the thread that watches for new versions."""

    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: a burst of connections waits in the kernel instead of being reset

    def __init__(self, address: tuple[str, int], models: ModelSet | ModelRegistry, poll_seconds: float = 1.0,
                 limits: ServerLimits = ServerLimits(), verbose: bool = False, batching: BatchingParameters | None = None):
        """Listen on `address` (host, port), then load the versions of `models` (a set, or one model) their policies
        name and start watching for new ones (and for a changed config file, when the set watches one).

        Raises:
            ListenError: the host does not resolve, the port is out of range, or the socket cannot be bound
                there (an address not this machine's, a port in use).
        """
        self._closer = LingeringCloser()  # before binding: a failed bind calls server_close, which closes these
        self._stop_polling = threading.Event()
        host, port = address
        try:
            self.address_family, bound = listening_address(host, port)
            super().__init__(bound, ServingHandler)
        except OSError as error:
            self._closer.close()
            reason = getattr(error, "strerror", None) or error
            raise ListenError(f"cannot listen on {host!r} port {port}: {reason}") from error
        self.state = ServerState.build(ModelSet.serving(models), limits, verbose, batching)  # what ServingHandler reads
        self.state.models.refresh()
        self._poller = threading.Thread(target=self.state.models.poll, args=(poll_seconds, self._stop_polling),
                                        daemon=True)
        self._poller.start()

    def process_request(self, request, client_address):
        """A thread per connection up to `max_connections`; beyond, a 503 without one."""
        if not self.state.connections.try_open():
            message = f"Server has {self.state.limits.max_connections} open connections, its limit; retry later"
            self._closer.refuse(request, canned_response(503, "Service Unavailable", message, RETRY_AFTER_SECONDS))
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.state.connections.close()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.state.connections.close()

    def handle_error(self, request, client_address):
        """A connection that failed outside any request (the client reset it, mostly): one log line, no traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            logger.debug("connection from %s: %s", client_address, error)
        else:
            logger.exception("connection from %s failed", client_address)

    def server_close(self):
        self._stop_polling.set()
        self._closer.close()
        if getattr(self, "state", None) is not None and self.state.batcher is not None:
            self.state.batcher.close()
        super().server_close()


def _flag_bool(text: str) -> bool:
    """A boolean flag's value as TF-Serving's flags take it: true/false (or 1/0)."""
    if text.lower() not in ("true", "false", "1", "0"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() in ("true", "1")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m serving.devserver",
        description="Development server with TF-Serving's REST API (production: the tensorflow/serving container).",
    )
    parser.add_argument("--model_name", help="name in /v1/models/<name> of the one model served (with --model_base_path)")
    parser.add_argument("--model_base_path", help="folder holding its numbered version folders")
    parser.add_argument("--model_config_file", type=Path,
                        help="instead: a TF-Serving ModelServerConfig in text format (serving/models.config): several "
                             "models, version policies (latest, specific, all) and version_labels")
    parser.add_argument("--model_config_file_poll_wait_seconds", type=float, default=0.0,
                        help="re-read --model_config_file this often and serve what it says then (default: 0, never)")
    parser.add_argument("--volume", type=Volume.parse, action="append", default=[], metavar="HOST_DIR:CONTAINER_DIR",
                        help="read the config's base paths under CONTAINER_DIR from HOST_DIR, as the container's "
                             "mount does (docker-compose.yml: ../models:/models); repeatable; the dev server's own flag")
    parser.add_argument("--rest_api_port", type=int, default=8501, help="port of the REST API")
    parser.add_argument("--rest_api_host", default="127.0.0.1",
                        help="address to bind, IPv4 or IPv6 (::1, ::) or a host name (development default: loopback only)")
    parser.add_argument("--port", type=int, default=None,
                        help="port of the gRPC API (TF-Serving's PredictionService and ModelService), on the "
                             "--rest_api_host address; 0: any free one (default: no gRPC; TF-Serving serves it on 8500)")
    parser.add_argument("--file_system_poll_wait_seconds", type=float, default=1.0,
                        help="how often to look for new versions (and retry ones that failed to load)")
    parser.add_argument("--max_num_load_retries", type=int, default=5,
                        help="retries of a version that failed to load, with doubling waits, until its files change")
    defaults = ServerLimits()
    parser.add_argument("--max_request_bytes", type=int, default=defaults.max_request_bytes,
                        help="larger request bodies are refused with HTTP 400 (default: %(default)s)")
    parser.add_argument("--max_buffered_bytes", type=int, default=defaults.max_buffered_bytes,
                        help="request bodies and the most their JSON can parse into, held in memory at once; beyond, "
                             "HTTP 503 (default: %(default)s)")
    parser.add_argument("--max_decoded_pixels", type=int, default=defaults.max_decoded_pixels,
                        help="pixels of the images decoded and colorized at once (about 72 bytes each at the peak); "
                             "a request waits for them, then gets HTTP 503 (default: %(default)s)")
    parser.add_argument("--max_concurrent_requests", type=int, default=defaults.max_concurrent_requests,
                        help="model calls that run at once (default: %(default)s)")
    parser.add_argument("--max_queue", type=int, default=defaults.max_queue,
                        help="requests that may wait for a model call; beyond, HTTP 503 (default: %(default)s)")
    parser.add_argument("--request_timeout_s", type=float, default=defaults.request_timeout_s,
                        help="a request must arrive within this many seconds (default: %(default)s)")
    parser.add_argument("--max_connections", type=int, default=defaults.max_connections,
                        help="open connections; beyond, HTTP 503 (default: %(default)s)")
    parser.add_argument("--enable_batching", type=_flag_bool, nargs="?", const=True, default=False,
                        help="merge concurrent calls of one signature into one model call, as TF-Serving's flag does "
                             "(`--enable_batching` or `--enable_batching=true`)")
    parser.add_argument("--batching_parameters_file", type=Path,
                        help="TF-Serving's BatchingParameters in text format (serving/batching_parameters.txt); "
                             "default: its max_batch_size 64, batch_timeout_micros 5000, num_batch_threads 4")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def serving_models(args: argparse.Namespace) -> ModelSet:
    """The models the flags name: those of --model_config_file (re-read every --model_config_file_poll_wait_seconds),
    or the one of --model_name and --model_base_path, as TF-Serving builds its config from them.

    Raises:
        config_schema.ModelConfigError: the config file cannot be read, or TF-Serving would refuse it.
    """
    if args.model_config_file is None:
        config = config_schema.single_model_config(args.model_name, str(Path(args.model_base_path).absolute()))
    else:
        config = config_schema.read_model_config(args.model_config_file)
    try:
        models = ModelSet.from_config(config, args.volume, args.max_num_load_retries, args.file_system_poll_wait_seconds)
    except ValueError as error:  # a config listing no model
        raise config_schema.ModelConfigError(f"model config {args.model_config_file}: {error}") from None
    if args.model_config_file is not None:
        models.watch_config_file(args.model_config_file, args.model_config_file_poll_wait_seconds)
    return models


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.model_config_file is None) == (args.model_name is None or args.model_base_path is None) or (
            args.model_config_file is not None and (args.model_name or args.model_base_path)):
        parser.error("give --model_name and --model_base_path (one model), or --model_config_file (instead of both)")
    try:
        limits = ServerLimits(**{field.name: getattr(args, field.name) for field in dataclasses.fields(ServerLimits)})
    except ValueError as error:
        parser.error(str(error))
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        models = serving_models(args)
    except config_schema.ModelConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.batching_parameters_file and not args.enable_batching:
        parser.error("--batching_parameters_file needs --enable_batching, as in TF-Serving")
    try:
        batching = (BatchingParameters.read(args.batching_parameters_file) if args.batching_parameters_file
                    else BatchingParameters()) if args.enable_batching else None
    except (OSError, ValueError) as error:
        print(f"error: batching parameters {args.batching_parameters_file}: {error}", file=sys.stderr)
        return 1
    try:
        server = DevServer((args.rest_api_host, args.rest_api_port), models, args.file_system_poll_wait_seconds,
                           limits, args.verbose, batching)
    except ListenError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    grpc_server = None
    if args.port is not None:  # started before the first line is printed: that line says the server is up
        try:
            grpc_server, grpc_port = start_grpc_server(server.state, args.rest_api_host, args.port)
        except ListenError as error:
            server.server_close()
            print(f"error: {error}", file=sys.stderr)
            return 1
    states = []
    for name in models.names():
        registry = models.get(name)
        versions = ", ".join(map(str, registry.served_versions()))
        states.append(f"{name} (version {versions})" if versions else f"{name} (no version yet under {registry.base_path})")
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in host else host  # an IPv6 address, as URLs write it
    print(f"Serving {', '.join(states)} at http://{host}:{port}/v1/models/{models.names()[0]}", flush=True)
    if grpc_server is not None:  # a second line, so the first stays the REST address it always was
        print(f"gRPC (tensorflow.serving.PredictionService, ModelService) at "
              f"{grpc_address(args.rest_api_host, grpc_port)}", flush=True)
    with server, contextlib.suppress(KeyboardInterrupt):  # Ctrl-C stops it; leaving the block closes it
        server.serve_forever()
    if grpc_server is not None:
        grpc_server.stop(grace=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
