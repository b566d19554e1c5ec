"""Load test of the development server: concurrent clients against a tiny model on 127.0.0.1.

    python -m benchmarks.load_test [--clients 1 8 64 256] [--requests 3] [--record]

Exports an untrained tiny model (the demo preset at 8 filters, depth 2: what is measured is the
server, not the network), starts `python -m serving.devserver` with its default limits in its own
process, and for each client count starts that many threads together, each sending `--requests`
128x128 JPEGs, one per `:predict` request, on its own keep-alive connection (plain http.client).
Reports throughput, p50/p95/p99 latency of the successful requests, HTTP statuses, resets and
requests left without an HTTP answer, and the server's peak RSS (against its idle RSS) and threads,
read from /proc. Then a decompression-bomb probe: a 20000x20000 PNG, its time to answer and the
server's extra memory. Bounded: each request times out after `--timeout` s, and each client count
stops sending after `--max-seconds`. `--record` appends the table to benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import base64
import collections
import dataclasses
import http.client
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import tfcolor  # noqa: F401  (first: sets TensorFlow's runtime options before TensorFlow loads)

# isort: split
import numpy as np
import tensorflow as tf

import export
from benchmarks.machine import cpu_description, record
from serving.devserver_process import ServerProcess, flat_png
from tfcolor.config import PRESETS, resolve
from tfcolor.models import factory

PREDICT_PATH = "/v1/models/tfcolor:predict"
IMAGE_SIZE = 128
BOMB_SIDE = 20000
SECTION = "`benchmarks/load_test.py` — the development server under concurrent clients"


def predict_body(image: bytes) -> bytes:
    return json.dumps({"instances": [{"b64": base64.b64encode(image).decode()}]}).encode()


def export_tiny_model(base: Path) -> Path:
    config = resolve({"base_filters": 8, "depth": 2}, base=PRESETS["demo"])
    return export.export_model(factory.build_colorizer(config), base, config.data.image_size)


def sample_jpeg() -> bytes:
    rng = np.random.default_rng(0)
    smooth = tf.image.resize(rng.integers(0, 256, (8, 8, 3)).astype(np.float32), (IMAGE_SIZE, IMAGE_SIZE))
    return tf.io.encode_jpeg(tf.cast(smooth, tf.uint8), quality=90).numpy()


class Watch:
    """Samples the server's RSS and thread count every 20 ms while a level runs: their peaks."""

    def __init__(self, server: ServerProcess):
        self.server = server
        self.peak_rss_kb = self.peak_threads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_rss_kb = max(self.peak_rss_kb, self.server.status("VmRSS"))
            self.peak_threads = max(self.peak_threads, self.server.status("Threads"))

    def __enter__(self) -> Watch:
        self.hwm_reset = self.server.reset_peak()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if self.hwm_reset:
            self.peak_rss_kb = max(self.peak_rss_kb, self.server.status("VmHWM"))


@dataclasses.dataclass
class Outcome:
    seconds: float
    status: int | None = None  # None: no HTTP answer
    failure: str | None = None  # "reset", "timeout" or the exception's name


def client(port: int, body: bytes, count: int, timeout: float, start: threading.Barrier, stop_at: list[float],
           outcomes: list[Outcome]) -> None:
    """`count` requests on one keep-alive connection (a new one after the server closes it)."""
    start.wait()
    connection = None
    for _ in range(count):
        if time.monotonic() > stop_at[0]:
            return
        began = time.perf_counter()
        try:
            connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            connection.request("POST", PREDICT_PATH, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            outcomes.append(Outcome(time.perf_counter() - began, response.status))
            if response.will_close:
                connection.close()
                connection = None
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
            outcomes.append(Outcome(time.perf_counter() - began, failure="reset"))
        except TimeoutError:
            outcomes.append(Outcome(time.perf_counter() - began, failure="timeout"))
        except (OSError, http.client.HTTPException) as error:
            outcomes.append(Outcome(time.perf_counter() - began, failure=type(error).__name__))
        if connection is not None and outcomes[-1].status is None:
            connection.close()
            connection = None
    if connection is not None:
        connection.close()


def run_level(server: ServerProcess, body: bytes, clients: int, requests: int, timeout: float,
              max_seconds: float, idle_rss_kb: int) -> dict:
    outcomes: list[Outcome] = []
    start = threading.Barrier(clients + 1)
    stop_at = [float("inf")]
    threads = [threading.Thread(target=client, args=(server.port, body, requests, timeout, start, stop_at, outcomes))
               for _ in range(clients)]
    with Watch(server) as watch:
        for thread in threads:
            thread.start()
        start.wait()
        began = time.perf_counter()
        stop_at[0] = time.monotonic() + max_seconds
        for thread in threads:
            thread.join(timeout=max_seconds + timeout + 10)
        wall = time.perf_counter() - began
    statuses = collections.Counter(o.status for o in outcomes if o.status is not None)
    failures = collections.Counter(o.failure for o in outcomes if o.failure is not None)
    ok = [o.seconds for o in outcomes if o.status == 200]
    percentile = (lambda q: 1000 * float(np.percentile(ok, q))) if ok else (lambda q: float("nan"))
    return {
        "clients": clients, "requests": clients * requests, "seconds": wall, "ok_per_s": len(ok) / wall,
        "p50_ms": percentile(50), "p95_ms": percentile(95), "p99_ms": percentile(99),
        "statuses": dict(sorted(statuses.items())), "resets": failures["reset"],
        "no_answer": sum(failures.values()), "failures": dict(failures),
        "not_sent": clients * requests - len(outcomes),
        "peak_rss_mb": watch.peak_rss_kb / 1024, "rss_vs_idle": watch.peak_rss_kb / idle_rss_kb,
        "peak_threads": watch.peak_threads,
    }


def warm_up(server: ServerProcess, body: bytes, timeout: float) -> None:
    """Two requests beside the export's own warm-up records, then a second of rest before idle RSS is read."""
    outcomes: list[Outcome] = []
    client(server.port, body, 2, timeout, threading.Barrier(1), [float("inf")], outcomes)
    if [o.status for o in outcomes] != [200, 200]:
        raise RuntimeError(f"warm-up requests failed: {outcomes}")
    time.sleep(1.0)


def bomb_probe(server: ServerProcess, timeout: float) -> dict:
    """POST a 20000x20000 PNG: the answer, its time, and how far the server's peak memory rose."""
    body = predict_body(flat_png(BOMB_SIDE, BOMB_SIDE))
    can_reset = server.reset_peak()
    before = server.status("VmRSS")
    began = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        connection.request("POST", PREDICT_PATH, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = {"status": response.status, "error": json.loads(response.read()).get("error", "")}
    except (OSError, http.client.HTTPException) as error:
        answer = {"status": None, "error": repr(error)}
    finally:
        connection.close()
    seconds = time.perf_counter() - began
    extra_mb = (server.status("VmHWM") - before) / 1024 if can_reset else float("nan")
    return {**answer, "seconds": seconds, "extra_mb": extra_mb, "body_kb": len(body) / 1024}


def markdown(rows: list[dict], idle_rss_mb: float, bomb: dict) -> str:
    lines = ["| clients | requests | images/s (200) | p50 ms | p95 ms | p99 ms | HTTP statuses | resets | no answer | "
             "peak RSS MB (× idle) | peak threads |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        statuses = ", ".join(f"{code}: {count}" for code, count in row["statuses"].items()) or "–"
        lines.append(f"| {row['clients']} | {row['requests']} | {row['ok_per_s']:.1f} | {row['p50_ms']:.0f} | "
                     f"{row['p95_ms']:.0f} | {row['p99_ms']:.0f} | {statuses} | {row['resets']} | "
                     f"{row['no_answer'] + row['not_sent']} | {row['peak_rss_mb']:.0f} ({row['rss_vs_idle']:.2f}×) | "
                     f"{row['peak_threads']} |")
    lines += ["", f"Idle RSS {idle_rss_mb:.0f} MB. Decompression bomb ({BOMB_SIDE}×{BOMB_SIDE} PNG, "
              f"{bomb['body_kb']:.0f} KB body): HTTP {bomb['status']} in {bomb['seconds']:.2f} s, "
              f"peak RSS +{bomb['extra_mb']:.1f} MB (\"{bomb['error'][:90]}\")."]
    return "\n".join(lines)


def intro(requests: int) -> str:
    """What RESULTS.md says under SECTION, the first time a table is recorded there."""
    return (f"Untrained tiny model (demo preset, 8 filters, depth 2), `serving.devserver` with its default limits in "
            f"its own process on 127.0.0.1; each client sends {requests} {IMAGE_SIZE}×{IMAGE_SIZE} JPEGs, one per "
            "`:predict` request, on a keep-alive connection, all clients starting together. Latencies are of the "
            "200 answers; \"no answer\" counts requests without an HTTP answer (resets included) or not sent within "
            "the time bound.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64, 256], help="concurrent clients, one level each")
    parser.add_argument("--requests", type=int, default=20, help="requests per client")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds one request may take")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="seconds a level may send requests for")
    parser.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    args = parser.parse_args()
    if min(args.clients) < 1 or args.requests < 1:
        parser.error("--clients and --requests must be positive")
    body = predict_body(sample_jpeg())
    with tempfile.TemporaryDirectory() as folder:
        version = export_tiny_model(Path(folder) / "tfcolor")
        server = ServerProcess(version.parent, Path(folder) / "devserver.log")
        try:
            warm_up(server, body, args.timeout)
            idle_rss_kb = server.status("VmRSS")
            print(f"device: {cpu_description()} | server pid {server.pid}, idle RSS {idle_rss_kb / 1024:.0f} MB",
                  flush=True)
            rows = []
            for clients in args.clients:
                rows.append(run_level(server, body, clients, args.requests, args.timeout, args.max_seconds, idle_rss_kb))
                print(json.dumps(rows[-1]), flush=True)
            bomb = bomb_probe(server, args.timeout)
            print(json.dumps({"bomb": bomb}), flush=True)
        finally:
            server.stop()
    table = markdown(rows, idle_rss_kb / 1024, bomb)
    print(table)
    if args.record:
        print(f"Appended to {record(table, section=SECTION, intro=intro(args.requests))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
