"""REST or gRPC client for a served tfcolor model (TF-Serving or the development server).

    python -m serving.client photo.jpg other.png --url http://127.0.0.1:8501 --model tfcolor --out colorized/
    python -m serving.client photos/ --concurrency 4 --out colorized/
    python -m serving.client photo.jpg --protocol grpc --url 127.0.0.1:8500 --out colorized/

Each image goes in its own `:predict` request as base64 bytes (over gRPC: its own `Predict` call, the
bytes in a string `TensorProto`, on one channel for the run), `--concurrency` of them in flight; the
colorized PNG is written to `--out`, under the input's path relative to the inputs' common folder
(`a.jpg sub/a.png` -> `out/a.png`, `out/sub/a.png`; a folder is searched for images and is its own
common folder), and the request's latency printed. A busy server's refusal (HTTP 503 or 429, gRPC
UNAVAILABLE or RESOURCE_EXHAUSTED) is retried after the `Retry-After` it advises, `--retries` times.
Nothing is overwritten: two inputs that would share an output stop the run before any request is
sent, and an output that exists already (without `--overwrite`) is skipped, so a rerun after an
interruption colorizes the rest (`serving.client_folders`). Outputs are written whole (a temporary
file renamed into place) and never through a link that appears below `--out` (`serving.output_files`).

Over REST it needs no TensorFlow: only the standard library (and `export.version_names`, the
rule for version numbers). `--protocol grpc` imports grpcio and TF-Serving's API protos (which load
TensorFlow) when it is used, and only then.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import email.utils
import functools
import json
import math
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from export.version_names import RULE, version_flag
from serving.client_folders import MAX_CONCURRENCY, Console, Outcome, Tally, colorize_all, count_flag, plan_outputs
from serving.output_files import write_output

DEFAULT_URLS = {"rest": "http://127.0.0.1:8501", "grpc": "127.0.0.1:8500"}  # TF-Serving's ports
SIGNATURE = "serving_default"
RENDER_SIGNATURE = "colorize_render_size"  # image_bytes and a render_size per image (export/signatures.py)
# A colorized PNG can be far larger than gRPC's default 4 MiB answer limit; the server bounds what it sends.
GRPC_CHANNEL_OPTIONS = (("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1))
BUSY_HTTP_STATUSES = (429, 503)  # the server asks to come back later; every other status is final
MAX_RETRY_WAIT_SECONDS = 30.0  # a server's Retry-After is followed up to this


class ServingError(RuntimeError):
    """The server refused or failed a request, could not be reached, or timed out.

    Args:
        status: int | str | None. the HTTP status or gRPC status code name answered; None where no server answered.
        retry_after_s: float | None. the server's `Retry-After` advice in seconds, where it gave one.
        busy: bool. the server is too busy now (HTTP 503 or 429, gRPC UNAVAILABLE with retry advice, or
            RESOURCE_EXHAUSTED but for a message too large): the same request may succeed later.
    """

    def __init__(self, message: str, status: int | str | None = None, retry_after_s: float | None = None, busy=False):
        super().__init__(message)
        self.status, self.retry_after_s, self.busy = status, retry_after_s, busy


@dataclasses.dataclass(frozen=True)
class Colorized:
    png: bytes
    height: int
    width: int
    latency_seconds: float


def predict_url(url: str, model: str, version: int | None = None) -> str:
    version_part = f"/versions/{version}" if version is not None else ""
    return f"{url.rstrip('/')}/v1/models/{model}{version_part}:predict"


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` value (seconds, or an HTTP date) -> seconds from now; None if absent or unreadable."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


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
        advice = retry_after_seconds(error.headers.get("Retry-After"))
        raise ServingError(f"{url}: {_error_message(error)}", error.code, advice, error.code in BUSY_HTTP_STATUSES) from None
    except TimeoutError:
        raise ServingError(f"{url}: no answer within {timeout} s") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, TimeoutError):
            raise ServingError(f"{url}: no answer within {timeout} s") from None
        raise ServingError(f"{url}: cannot reach the server ({error.reason})") from None


def colorize(image_bytes: bytes, url: str, model: str, version: int | None = None, timeout: float = 60.0,
             render_size: int | None = None) -> Colorized:
    """Colorize one encoded image (JPEG/PNG/BMP/GIF) through the `serving_default` signature, or on a square of
    `render_size` through `colorize_render_size`."""
    image = {"b64": base64.b64encode(image_bytes).decode("ascii")}
    body = {"instances": [image]} if render_size is None else {
        "signature_name": RENDER_SIGNATURE, "instances": [{"image_bytes": image, "render_size": render_size}]}
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
def rest_colorizer(url: str, model: str, version: int | None = None, timeout: float = 60.0,
                   render_size: int | None = None) -> Iterator[Callable[[bytes], Colorized]]:
    """`colorize` bound to one server, as `grpc_colorizer` is."""
    yield lambda image_bytes: colorize(image_bytes, url, model, version, timeout, render_size)


def _grpc_error(error, address: str, timeout: float) -> ServingError:
    """A failed gRPC call (a `grpc.RpcError`, also a `grpc.Call`) -> ServingError, worded as the REST path's."""
    import grpc

    code, details = error.code(), error.details() or ""
    retry_after = dict(error.trailing_metadata() or ()).get("retry-after")
    if code == grpc.StatusCode.NOT_FOUND and "Servable not found" in details:
        return ServingError(f"{address}: model not ready or not found (NOT_FOUND: {details})", code.name)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ServingError(f"{address}: no answer within {timeout} s")
    if code == grpc.StatusCode.UNAVAILABLE and retry_after is None:  # no server's advice: no server answered
        return ServingError(f"{address}: cannot reach the server ({details})")
    advice = f" (retry after {retry_after} s)" if retry_after is not None else ""
    # gRPC answers RESOURCE_EXHAUSTED both to a full worker pool (busy) and to a message over the server's limit (final).
    busy = code == grpc.StatusCode.UNAVAILABLE or (
        code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" not in details)
    return ServingError(f"{address}: {code.name}: {details}{advice}", code.name, retry_after_seconds(retry_after), busy)


@contextlib.contextmanager
def grpc_colorizer(address: str, model: str, version: int | None = None, timeout: float = 60.0,
                   render_size: int | None = None) -> Iterator[Callable[[bytes], Colorized]]:
    """A function that colorizes one encoded image through `serving_default` (or, with `render_size`,
    `colorize_render_size`) over TF-Serving's gRPC API (`host:port`), on one channel that the `with` block
    closes.

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
            request.model_spec.name = model
            request.model_spec.signature_name = SIGNATURE if render_size is None else RENDER_SIGNATURE
            if version is not None:
                request.model_spec.version.value = version
            request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([image_bytes], dtype=tf.string))
            if render_size is not None:
                request.inputs["render_size"].CopyFrom(tf.make_tensor_proto([render_size], dtype=tf.int32))
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


def _retries(count: int) -> str:
    return "1 retry" if count == 1 else f"{count} retries"


def colorize_with_retries(colorize_one: Callable[[bytes], Colorized], image_bytes: bytes, retries: int,
                          wait: Callable[[float], bool]) -> tuple[Colorized, int]:
    """`colorize_one(image_bytes)` and the retries it took, retried while the server is busy (`ServingError.busy`),
    at most `retries` times, each after the `Retry-After` it advises (else 1, 2, 4, ... s) plus up to 20 %, so
    that clients refused together come back apart, and at most `MAX_RETRY_WAIT_SECONDS`. `wait(seconds)` sleeps
    and says whether the run is stopping (no more retries), as `threading.Event.wait` does.

    Raises:
        ServingError: a final refusal (any but busy), or the last busy one once the retries are spent or the run
            stops (its message says how many were made).
    """
    attempt = 0
    while True:
        try:
            return colorize_one(image_bytes), attempt
        except ServingError as error:
            refusal = error
        advice = refusal.retry_after_s if refusal.retry_after_s is not None else 2.0**attempt
        if not refusal.busy or attempt == retries or wait(min(advice * random.uniform(1.0, 1.2), MAX_RETRY_WAIT_SECONDS)):
            break
        attempt += 1
    if not attempt:
        raise refusal
    raise ServingError(f"{refusal} (after {_retries(attempt)})", refusal.status, refusal.retry_after_s, refusal.busy)


def colorize_file(path: Path, target: Path, out: Path, colorize_one: Callable[[bytes], Colorized], retries: int,
                  wait: Callable[[float], bool], overwrite: bool = False) -> Outcome:
    """One input read, colorized (with retries) and written to `target` below `out`: the line that says how."""
    try:
        result, retried = colorize_with_retries(colorize_one, path.read_bytes(), retries, wait)
    except (OSError, ServingError) as error:
        return Outcome(f"{path}: error: {error}", failed=True)
    try:
        write_output(out, target.relative_to(out), result.png, overwrite)
    except OSError as error:  # a link planted below --out, an output that appeared meanwhile, a full disk
        return Outcome(f"{path}: error: not written: {error}", failed=True)
    after = f" after {_retries(retried)}" if retried else ""
    return Outcome(f"{path} -> {target} ({result.width}x{result.height}) in {result.latency_seconds * 1000:.0f} ms{after}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m serving.client", description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", help="images to colorize, or folders to search for them "
                        "(.jpg .jpeg .png .bmp .gif .webp, any case; hidden files left out)")
    parser.add_argument("--protocol", choices=sorted(COLORIZERS), default="rest",
                        help="TF-Serving's REST API or its gRPC API (default: %(default)s)")
    parser.add_argument("--url", help="the server: REST's http://host:port (default: "
                        f"{DEFAULT_URLS['rest']}), gRPC's host:port (default: {DEFAULT_URLS['grpc']})")
    parser.add_argument("--model", default="tfcolor", help="model name")
    parser.add_argument("--version", type=version_flag, help=f"model version ({RULE}; default: the newest served)")
    parser.add_argument("--out", required=True, help="folder for the colorized PNGs")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each answer")
    parser.add_argument("--render-size", type=int, metavar="N",
                        help="colorize on an N x N square (the colorize_render_size signature; the export's range, "
                             "16 to --max-render-size) instead of the export's training size")
    parser.add_argument("--concurrency", type=count_flag("requests in flight", 1, MAX_CONCURRENCY), default=1,
                        help=f"requests in flight at once, 1 to {MAX_CONCURRENCY} (default: %(default)s); "
                        "each takes one of the server's model slots while it runs")
    parser.add_argument("--retries", type=count_flag("retries", 0, 100), default=5,
                        help="times a request the server refuses as busy (HTTP 503 or 429, gRPC UNAVAILABLE or "
                        "RESOURCE_EXHAUSTED) is sent again, after the Retry-After it advises, at most "
                        f"{MAX_RETRY_WAIT_SECONDS:.0f} s (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace outputs that exist already (without it they are skipped)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    try:
        plan = plan_outputs([Path(name) for name in args.images], out, args.overwrite)
    except (FileExistsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    tally = Tally()
    if plan.targets:  # nothing to send: no connection (nor, over gRPC, TensorFlow) at all
        stop = threading.Event()
        url = args.url or DEFAULT_URLS[args.protocol]
        with COLORIZERS[args.protocol](url, args.model, args.version, args.timeout, args.render_size) as colorize_one:
            work = functools.partial(colorize_file, out=out, colorize_one=colorize_one, retries=args.retries,
                                     wait=stop.wait, overwrite=args.overwrite)
            console = Console(len(plan.targets), sys.stdout, sys.stderr)
            tally = colorize_all(plan.targets, work, args.concurrency, console, stop)
    summary = [f"Colorized {tally.written} of {len(plan.targets)} images into {out}"]
    summary += [f"{tally.failed} failed"] if tally.failed else []
    summary += [f"skipped {len(plan.skipped)} already written (--overwrite replaces them)"] if plan.skipped else []
    summary += ["interrupted: the same command colorizes the rest"] if tally.interrupted else []
    print("; ".join(summary))
    return 130 if tally.interrupted else 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
