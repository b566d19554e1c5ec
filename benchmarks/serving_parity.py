"""The dev server as TF-Serving users drive it: batching on and off, REST against gRPC, one request of many
images against many requests of one.

    python -m benchmarks.serving_parity [--clients 64] [--requests 4] [--record]

Exports the untrained demo-size model (the demo preset's network at 32 px: what is measured is the
serving path, the network's size is the demo's) and starts `python -m serving.devserver` in its own
process, then measures, one after another:

1. `--clients` concurrent clients sending 128x128 JPEGs, one per `:predict`, against a server without
   and with `--enable_batching --batching_parameters_file serving/batching_parameters.txt` (the shipped
   file): images/s, p50/p99, statuses, resets (`benchmarks.load_test`'s clients);
2. one client, 256x256 JPEGs, one at a time over REST (keep-alive) and over gRPC (`--port`): p50/p99
   of `--single` requests each, after a warm-up;
3. one request of 16 images against 16 requests of one image, one after another on one connection:
   images/s;
4. a folder of the first `--folder` photos of ../shared/photos through `python -m serving.client
   --concurrency 4` (a subprocess, as users run it) against `tfcolor.colorize` in process on the same
   model: seconds and photos/s.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)

# isort: split
import numpy as np
import tensorflow as tf

import export
from benchmarks.load_test import PREDICT_PATH, predict_body, run_level, sample_jpeg, warm_up
from benchmarks.machine import cpu_description, record
from serving.devserver_process import ServerProcess
from tfcolor.config import PRESETS
from tfcolor.models import factory, photo_colorizing

SECTION = "`benchmarks/serving_parity.py` — batching, REST against gRPC, one request of many images"
ROOT = Path(__file__).resolve().parent.parent
SHIPPED_BATCHING = ROOT / "serving" / "batching_parameters.txt"
SHARED_PHOTOS = ROOT.parent / "shared" / "photos"


def jpeg(side: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    smooth = tf.image.resize(rng.integers(0, 256, (8, 8, 3)).astype(np.float32), (side, side))
    return tf.io.encode_jpeg(tf.cast(smooth, tf.uint8), quality=90).numpy()


def rest_latencies(port: int, image: bytes, count: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = predict_body(image)
    seconds = []
    for _ in range(count):
        began = time.perf_counter()
        connection.request("POST", PREDICT_PATH, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
        seconds.append(time.perf_counter() - began)
    connection.close()
    return seconds


def grpc_latencies(address: str, image: bytes, count: int) -> list[float]:
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "tfcolor"
        request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([image], dtype=tf.string))
        seconds = []
        for _ in range(count):
            began = time.perf_counter()
            stub.Predict(request, timeout=120)
            seconds.append(time.perf_counter() - began)
    return seconds


def images_per_second(port: int, images: list[bytes], per_request: int) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    began = time.perf_counter()
    for start in range(0, len(images), per_request):
        body = json.dumps({"instances": [{"b64": base64.b64encode(image).decode()}
                                         for image in images[start:start + per_request]]}).encode()
        connection.request("POST", PREDICT_PATH, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
    connection.close()
    return len(images) / (time.perf_counter() - began)


def folder_rows(server: ServerProcess, colorizer, model_size: int, folder: Path, count: int) -> list[str]:
    """Part 4: the same photos through the client (4 in flight) and through tfcolor.colorize in process, both
    with the weights of `colorizer` (the served version is its export)."""
    photos = folder / "photos"
    photos.mkdir()
    for path in sorted(SHARED_PHOTOS.glob("*"))[:count]:
        if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            shutil.copy(path, photos / path.name)
    count = len(list(photos.iterdir()))
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "serving.client", str(photos), "--out", str(folder / "client-out"),
                    "--url", server.origin, "--concurrency", "4"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    client_seconds = time.perf_counter() - began
    began = time.perf_counter()
    photo_colorizing.colorize_paths(colorizer, photos, folder / "colorize-out", model_size)
    in_process = time.perf_counter() - began
    return [f"4. A folder of {count} photos of ../shared/photos (up to 512 px):", "",
            "| path | seconds | photos/s |", "|---|---|---|",
            f"| `serving.client --concurrency 4` (REST, dev server) | {client_seconds:.1f} | {count / client_seconds:.1f} |",
            f"| `tfcolor.colorize` in process | {in_process:.1f} | {count / in_process:.1f} |"]


def percentile_ms(seconds: list[float], q: float) -> float:
    return 1000 * float(np.percentile(seconds, q))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=4, help="requests per client in part 1")
    parser.add_argument("--single", type=int, default=30, help="requests per protocol in part 2")
    parser.add_argument("--folder", type=int, default=200, help="photos in part 4 (0: skip it)")
    parser.add_argument("--record", action="store_true", help="append the tables to benchmarks/RESULTS.md")
    args = parser.parse_args()
    config = PRESETS["demo"]
    lines = []
    with tempfile.TemporaryDirectory() as folder:
        colorizer = factory.build_colorizer(config)
        version = export.export_model(colorizer, Path(folder) / "tfcolor", config.data.image_size)
        body = predict_body(sample_jpeg())
        levels = {}
        for name, flags in (("without batching", ()),
                            ("with batching", ("--enable_batching", "--batching_parameters_file", str(SHIPPED_BATCHING)))):
            server = ServerProcess(version.parent, Path(folder) / f"{name}.log", flags)
            try:
                warm_up(server, body, 120)
                levels[name] = run_level(server, body, args.clients, args.requests, 120, 300, server.status("VmRSS"))
                print(name, json.dumps(levels[name]), flush=True)
            finally:
                server.stop()
        lines += [f"1. {args.clients} concurrent clients, {args.requests} requests each (one 128×128 JPEG per request):", "",
                  "| server | images/s | p50 ms | p99 ms | HTTP statuses | resets |", "|---|---|---|---|---|---|"]
        for name, row in levels.items():
            statuses = ", ".join(f"{code}: {count}" for code, count in row["statuses"].items())
            lines.append(f"| {name} | {row['ok_per_s']:.1f} | {row['p50_ms']:.0f} | {row['p99_ms']:.0f} | {statuses} | "
                         f"{row['resets']} |")
        gain = levels["with batching"]["ok_per_s"] / levels["without batching"]["ok_per_s"]
        lines += ["", f"Batching: {gain:.2f}× the images/s.", ""]
        server = ServerProcess(version.parent, Path(folder) / "protocols.log", ("--port", "0"))
        try:
            image = jpeg(256)
            rest_latencies(server.port, image, 3)
            grpc_latencies(server.grpc_address, image, 3)
            rest, grpc_ = [], []
            for _ in range(args.single // 5):  # alternated in rounds of 5, so drift hits both alike
                rest += rest_latencies(server.port, image, 5)
                grpc_ += grpc_latencies(server.grpc_address, image, 5)
            lines += [f"2. One client, 256×256 JPEGs, {len(rest)} requests each, alternated:", "",
                      "| protocol | p50 ms | p99 ms | mean ms |", "|---|---|---|---|",
                      f"| REST (keep-alive) | {percentile_ms(rest, 50):.1f} | {percentile_ms(rest, 99):.1f} | "
                      f"{1000 * statistics.mean(rest):.1f} |",
                      f"| gRPC | {percentile_ms(grpc_, 50):.1f} | {percentile_ms(grpc_, 99):.1f} | "
                      f"{1000 * statistics.mean(grpc_):.1f} |", ""]
            images = [jpeg(128, seed) for seed in range(16)]
            images_per_second(server.port, images, 16)  # warm: the batch of 16 traced once
            rounds = {16: [], 1: []}
            for _ in range(3):
                for per_request in (16, 1):
                    rounds[per_request].append(images_per_second(server.port, images, per_request))
            lines += ["3. 16 images (128×128 JPEGs), one connection, median of 3 alternated rounds:", "",
                      "| requests | images/s |", "|---|---|",
                      f"| one request of 16 images | {statistics.median(rounds[16]):.1f} |",
                      f"| 16 requests of one image | {statistics.median(rounds[1]):.1f} |"]
            if args.folder:
                lines += ["", *folder_rows(server, colorizer, config.data.image_size, Path(folder), args.folder)]
        finally:
            server.stop()
    table = "\n".join(lines) + f"\n\n{cpu_description()}; untrained demo preset network at 32 px."
    print(table)
    if args.record:
        print(f"Appended to {record(table, section=SECTION)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
