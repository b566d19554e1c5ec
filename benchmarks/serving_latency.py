"""Latency and throughput of colorizing 256x256 JPEGs through the development server's REST API.

    python -m benchmarks.serving_latency [--run RUN] [--requests 40]

With no `--run`, an untrained model of the places365 preset (the 256x256 network) is exported,
so the figures measure cost, not quality. Prints p50/p95 latency and images/s for 1 and 8
concurrent clients, and the model-only forward time of the same images beside them, so the share of
decoding, Lab conversion, PNG encoding and HTTP is visible.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)

# isort: split
import numpy as np
import tensorflow as tf

import export
from benchmarks.machine import cpu_description
from serving import client
from serving.devserver import DevServer
from serving.model_registry import ModelRegistry
from tfcolor.config import PRESETS
from tfcolor.models import factory, restoring

SIZE = 256


def load_or_build(run: str | None):
    if run:
        config, model = restoring.load_colorizer(run)
        return config.data.image_size, model
    return SIZE, factory.build_colorizer(PRESETS["places365"])


def test_jpegs(count: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    smooth = [tf.image.resize(rng.integers(0, 256, (8, 8, 3)).astype(np.float32), (SIZE, SIZE)) for _ in range(count)]
    return [tf.io.encode_jpeg(tf.cast(image, tf.uint8), quality=90).numpy() for image in smooth]


def model_only_timings(saved_model: Path, model_size: int, repeats: int = 20) -> list[float]:
    """Seconds per call of the SavedModel's `colorize_lab` (network only) on one image, same runtime as serving."""
    colorize_lab = tf.saved_model.load(str(saved_model)).signatures["colorize_lab"]
    l_scaled = tf.random.uniform((1, model_size, model_size, 1), -1.0, 1.0)
    colorize_lab(l_scaled=l_scaled)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        colorize_lab(l_scaled=l_scaled)["ab_scaled"].numpy()
        timings.append(time.perf_counter() - start)
    return timings


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def run_clients(url: str, images: list[bytes], concurrency: int) -> tuple[list[float], float]:
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda image: client.colorize(image, url, "tfcolor").latency_seconds, images))
    return results, len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="trained run to export (default: an untrained places365 model)")
    parser.add_argument("--requests", type=int, default=40, help="requests per concurrency level")
    args = parser.parse_args()
    model_size, model = load_or_build(args.run)
    images = test_jpegs(args.requests)

    with tempfile.TemporaryDirectory() as folder:
        version_dir = export.export_model(model, Path(folder) / "tfcolor", model_size)
        timings = model_only_timings(version_dir, model_size)
        server = DevServer(("127.0.0.1", 0), ModelRegistry("tfcolor", version_dir.parent))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        client.colorize(images[0], url, "tfcolor")  # one more warm-up call, beside the export's own warm-up records
        rows = {"device": cpu_description(),
                "model_only_forward_ms_p50": 1000 * statistics.median(timings)}
        print(f"device: {rows['device']} | {SIZE}x{SIZE} JPEGs, model size {model_size}")
        print(f"model-only forward (1 image): p50 {rows['model_only_forward_ms_p50']:.1f} ms")
        for concurrency in (1, 8):
            latencies, rate = run_clients(url, images, concurrency)
            p50, p95 = 1000 * percentile(latencies, 50), 1000 * percentile(latencies, 95)
            rows[f"clients_{concurrency}"] = {"p50_ms": p50, "p95_ms": p95, "images_per_s": rate}
            print(f"{concurrency} client(s): p50 {p50:.1f} ms  p95 {p95:.1f} ms  {rate:.2f} images/s")
        server.shutdown()
        server.server_close()
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
