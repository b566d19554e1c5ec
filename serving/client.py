"""REST or gRPC client for a served tfcolor model (TF-Serving or the development server).

    python -m serving.client photo.jpg other.png --url http://127.0.0.1:8501 --model tfcolor --out colorized/
    python -m serving.client photo.jpg --protocol grpc --url 127.0.0.1:8500 --out colorized/

Each image goes in its own `:predict` request as base64 bytes (over gRPC: its own `Predict` call, the
bytes in a string `TensorProto`, on one channel for the run); the colorized PNG is written to
`--out`, under the input's path relative to the inputs' common folder (`a.jpg sub/a.png` ->
`out/a.png`, `out/sub/a.png`), and the request's latency printed. Nothing is overwritten: two inputs
that would share an output, or an output that exists already (without `--overwrite`), stop the run
before any request is sent. Outputs are written whole (a temporary file renamed into place) and never
through a link that appears below `--out` (`serving.output_files`).

Over REST it needs no TensorFlow: only the standard library (and `export.version_names`, the
rule for version numbers). `--protocol grpc` imports grpcio and TF-Serving's API protos (which load
TensorFlow) when it is used, and only then.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from export.version_names import RULE, version_flag
from serving.output_files import write_output

DEFAULT_URLS = {"rest": "http://127.0.0.1:8501", "grpc": "127.0.0.1:8500"}  # TF-Serving's ports
SIGNATURE = "serving_default"
# A colorized PNG can be far larger than gRPC's default 4 MiB answer limit; the server bounds what it sends.
GRPC_CHANNEL_OPTIONS = (("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1))


class ServingError(RuntimeError):
    """The server refused or failed a request, could not be reached, or timed out."""


@dataclasses.dataclass(frozen=True)
class Colorized:
    png: bytes
    height: int
    width: int
    latency_seconds: float


def predict_url(url: str, model: str, version: int | None = None) -> str:
    version_part = f"/versions/{version}" if version is not None else ""
    return f"{url.rstrip('/')}/v1/models/{model}{version_part}:predict"


def _error_message(error: urllib.error.HTTPError) -> str:
    body = error.read().decode("utf-8", errors="replace")
    try:
        message = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        message = body.strip() or error.reason
    if error.code == 404 and "Servable not found" in message:
        return f"model not ready or not found (HTTP 404: {message})"
    return f"HTTP {error.code}: {message}"


def post_json(url: str, body: dict, timeout: float) -> dict:
    """POST `body` as JSON and return the decoded answer; errors become `ServingError`s with the reason."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode("utf-8"), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise ServingError(f"{url}: {_error_message(error)}") from None
    except TimeoutError:
        raise ServingError(f"{url}: no answer within {timeout} s") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise ServingError(f"{url}: no answer within {timeout} s") from None
        raise ServingError(f"{url}: cannot reach the server ({error.reason})") from None


def colorize(image_bytes: bytes, url: str, model: str, version: int | None = None, timeout: float = 60.0) -> Colorized:
    """Colorize one encoded image (JPEG/PNG/BMP/GIF) through the `serving_default` signature."""
    body = {"instances": [{"b64": base64.b64encode(image_bytes).decode("ascii")}]}
    start = time.perf_counter()
    answer = post_json(predict_url(url, model, version), body, timeout)
    latency = time.perf_counter() - start
    try:
        prediction = answer["predictions"][0]
        png = base64.b64decode(prediction["colorized_bytes"]["b64"])
        height, width = prediction["image_size"]
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise ServingError(f"unexpected answer from {url} ({error!r}): {str(answer)[:200]}") from None
    return Colorized(png, int(height), int(width), latency)


@contextlib.contextmanager
def rest_colorizer(url: str, model: str, version: int | None = None,
                   timeout: float = 60.0) -> Iterator[Callable[[bytes], Colorized]]:
    """`colorize` bound to one server, as `grpc_colorizer` is."""
    yield lambda image_bytes: colorize(image_bytes, url, model, version, timeout)


def _grpc_error(error, address: str, timeout: float) -> ServingError:
    """A failed gRPC call (a `grpc.RpcError`, also a `grpc.Call`) -> ServingError, worded as the REST path's."""
    import grpc

    code, details = error.code(), error.details()
    retry_after = dict(error.trailing_metadata() or ()).get("retry-after")
    if code == grpc.StatusCode.NOT_FOUND and "Servable not found" in details:
        return ServingError(f"{address}: model not ready or not found (NOT_FOUND: {details})")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ServingError(f"{address}: no answer within {timeout} s")
    if code == grpc.StatusCode.UNAVAILABLE and retry_after is None:  # no server's advice: no server answered
        return ServingError(f"{address}: cannot reach the server ({details})")
    advice = f" (retry after {retry_after} s)" if retry_after is not None else ""
    return ServingError(f"{address}: {code.name}: {details}{advice}")


@contextlib.contextmanager
def grpc_colorizer(address: str, model: str, version: int | None = None,
                   timeout: float = 60.0) -> Iterator[Callable[[bytes], Colorized]]:
    """A function that colorizes one encoded image through `serving_default` over TF-Serving's gRPC API
    (`host:port`), on one channel that the `with` block closes.

    ```python
    with grpc_colorizer("127.0.0.1:8500", "tfcolor") as colorize_one:
        png = colorize_one(Path("photo.jpg").read_bytes()).png
    ```
    """
    import grpc  # only this path needs grpcio and TF-Serving's protos (which load TensorFlow: its tensor protos)
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    with grpc.insecure_channel(address, options=GRPC_CHANNEL_OPTIONS) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

        def colorize_one(image_bytes: bytes) -> Colorized:
            request = predict_pb2.PredictRequest()
            request.model_spec.name, request.model_spec.signature_name = model, SIGNATURE
            if version is not None:
                request.model_spec.version.value = version
            request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([image_bytes], dtype=tf.string))
            start = time.perf_counter()
            try:
                response = stub.Predict(request, timeout=timeout)
            except grpc.RpcError as error:
                raise _grpc_error(error, address, timeout) from None
            latency = time.perf_counter() - start
            try:
                (png,) = tf.make_ndarray(response.outputs["colorized_bytes"])
                ((height, width),) = tf.make_ndarray(response.outputs["image_size"])
            except (TypeError, ValueError) as error:
                raise ServingError(f"unexpected answer from {address} ({error!r}): {str(response)[:200]}") from None
            return Colorized(png, int(height), int(width), latency)

        yield colorize_one


COLORIZERS = {"rest": rest_colorizer, "grpc": grpc_colorizer}


def output_paths(inputs: list[Path], out: Path, overwrite: bool = False) -> dict[Path, Path]:
    """Each input -> `out/<its path relative to the inputs' common folder>.png`.

    Raises:
        FileExistsError: two inputs would write one output (both named), or an output exists already
            and `overwrite` is off.
    """
    given: dict[Path, Path] = {}
    for path in inputs:
        given.setdefault(path.resolve(), path)  # one entry per file, as first named
    root = Path(os.path.commonpath([resolved.parent for resolved in given]))
    targets = {path: out / resolved.relative_to(root).with_suffix(".png") for resolved, path in given.items()}
    by_target: dict[Path, list[Path]] = {}
    for path, target in targets.items():
        by_target.setdefault(target, []).append(path)
    problems = [f"{' and '.join(map(str, sources))} would both be written to {target}"
                for target, sources in by_target.items() if len(sources) > 1]
    if not overwrite:
        problems += [f"{target} exists already (--overwrite replaces it)" for target in by_target if os.path.lexists(target)]
    if problems:
        raise FileExistsError("nothing was written: " + "; ".join(problems))
    return targets


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m serving.client", description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", help="images to colorize")
    parser.add_argument("--protocol", choices=sorted(COLORIZERS), default="rest",
                        help="TF-Serving's REST API or its gRPC API (default: %(default)s)")
    parser.add_argument("--url", help="the server: REST's http://host:port (default: "
                        f"{DEFAULT_URLS['rest']}), gRPC's host:port (default: {DEFAULT_URLS['grpc']})")
    parser.add_argument("--model", default="tfcolor", help="model name")
    parser.add_argument("--version", type=version_flag, help=f"model version ({RULE}; default: the newest served)")
    parser.add_argument("--out", required=True, help="folder for the colorized PNGs")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each answer")
    parser.add_argument("--overwrite", action="store_true", help="replace outputs that exist already")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    try:
        targets = output_paths([Path(name) for name in args.images], out, args.overwrite)
    except FileExistsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    failures = 0
    url = args.url or DEFAULT_URLS[args.protocol]
    with COLORIZERS[args.protocol](url, args.model, args.version, args.timeout) as colorize_one:
        for path, target in targets.items():
            try:
                result = colorize_one(path.read_bytes())
            except (OSError, ServingError) as error:
                print(f"{path}: error: {error}", file=sys.stderr)
                failures += 1
                continue
            try:
                write_output(out, target.relative_to(out), result.png, args.overwrite)
            except OSError as error:  # a link planted below --out, an output that appeared meanwhile, a full disk
                print(f"{path}: error: not written: {error}", file=sys.stderr)
                failures += 1
                continue
            print(f"{path} -> {target} ({result.width}x{result.height}) in {result.latency_seconds * 1000:.0f} ms")
    print(f"Colorized {len(targets) - failures} of {len(targets)} images into {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
