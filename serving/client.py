"""REST client for a served tfcolor model (TF-Serving or the development server).

    python -m serving.client photo.jpg other.png --url http://127.0.0.1:8501 --model tfcolor --out colorized/

Each image goes in its own `:predict` request as base64 bytes; the colorized PNG is written to
`--out` and the request's latency printed. Needs no TensorFlow: only the standard library.
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m serving.client", description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", help="images to colorize")
    parser.add_argument("--url", default="http://127.0.0.1:8501", help="TF-Serving REST address")
    parser.add_argument("--model", default="tfcolor", help="model name")
    parser.add_argument("--version", type=int, help="model version (default: the newest served)")
    parser.add_argument("--out", required=True, help="folder for the colorized PNGs")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each answer")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for name in args.images:
        path = Path(name)
        try:
            result = colorize(path.read_bytes(), args.url, args.model, args.version, args.timeout)
        except (OSError, ServingError) as error:
            print(f"{path}: error: {error}", file=sys.stderr)
            failures += 1
            continue
        target = out / f"{path.stem}.png"
        target.write_bytes(result.png)
        print(f"{path} -> {target} ({result.width}x{result.height}) in {result.latency_seconds * 1000:.0f} ms")
    print(f"Colorized {len(args.images) - failures} of {len(args.images)} images into {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
