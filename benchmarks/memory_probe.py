"""The dev server's memory under the issue's probe: requests that are small on the wire and huge once decoded.

    python -m benchmarks.memory_probe [--side 7070] [--record] [-- SERVER FLAGS...]

Exports the tiny untrained model of `benchmarks.load_test`, starts `python -m serving.devserver` in its
own process with its default limits (or the flags after `--`), and sends, one case after another:
one flat PNG of `--side`² pixels (49.98 Mpx at 7070, under the 50 Mpx limit; 211 KB on the wire), four
of them in one request, four such requests at once, a 30 MB compact JSON array, and a GIF whose
16x16 logical screen hides an 8000x7000 frame. For each: the HTTP statuses, the seconds, and the
server's peak RSS (VmHWM); at the end, whether the server still answers. The one-image case's peak
above the idle RSS, per decoded pixel, is the figure the README's memory budget is stated with.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import io
import json
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

from benchmarks.load_test import PREDICT_PATH, export_tiny_model
from benchmarks.machine import cpu_description, record
from serving.devserver_process import ServerProcess, flat_png

SECTION = "`benchmarks/memory_probe.py` — the dev server's memory against what requests decode"


def predict_body(images: list[bytes]) -> bytes:
    return json.dumps({"instances": [{"b64": base64.b64encode(image).decode()} for image in images]}).encode()


def forged_gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (8000, 7000)).save(buffer, "GIF")
    data = bytearray(buffer.getvalue())
    data[6:10] = struct.pack("<HH", 16, 16)
    return bytes(data)


def post(port: int, body: bytes, timeout: float) -> tuple[int | None, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", PREDICT_PATH, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        return response.status, json.loads(answer).get("error", "") if response.status != 200 else ""
    except (OSError, http.client.HTTPException) as error:
        return None, repr(error)
    finally:
        connection.close()


def probe(server: ServerProcess, bodies: list[bytes], timeout: float) -> dict:
    """Send `bodies` at once, one connection each: statuses, first error, seconds, the server's peak RSS (MB)
    during them (from its RSS at the start: what earlier cases left allocated counts too)."""
    server.reset_peak()
    answers: list[tuple[int | None, str]] = []
    threads = [threading.Thread(target=lambda body=body: answers.append(post(server.port, body, timeout)))
               for body in bodies]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    errors = [error for _, error in answers if error]
    return {"statuses": sorted(str(status) for status, _ in answers), "error": errors[0] if errors else "",
            "seconds": seconds, "peak_mb": server.status("VmHWM") / 1024,
            "body_kb": sum(len(body) for body in bodies) / 1024}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=7070, help="side of the flat PNGs (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one request may take")
    parser.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    parser.add_argument("server_flags", nargs="*", help="flags for the dev server, after --")
    args = parser.parse_args()
    large = flat_png(args.side, args.side)
    cases = {
        f"one {args.side}² PNG": [predict_body([large])],
        "four of them in one request": [predict_body([large] * 4)],
        "four such requests at once": [predict_body([large])] * 4,
        "compact JSON array (`[],` × 10⁷)": [b'{"instances": [' + b"[]," * 10_000_000 + b"[]]}"],
        "GIF: 16×16 screen, 8000×7000 frame": [predict_body([forged_gif()])],
    }
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        version = export_tiny_model(Path(folder) / "tfcolor")
        server = ServerProcess(version.parent, Path(folder) / "devserver.log", tuple(args.server_flags))
        try:
            post(server.port, predict_body([flat_png(64, 64)]), args.timeout)  # warm up
            idle_mb = server.status("VmRSS") / 1024
            print(f"device: {cpu_description()} | idle RSS {idle_mb:.0f} MB | flags: {args.server_flags}", flush=True)
            for name, bodies in cases.items():
                rows[name] = probe(server, bodies, args.timeout)
                print(name, json.dumps(rows[name]), flush=True)
            alive = post(server.port, predict_body([flat_png(64, 64)]), args.timeout)[0] == 200
        finally:
            server.stop()
    per_pixel = (rows[f"one {args.side}² PNG"]["peak_mb"] - idle_mb) * 2**20 / args.side**2
    lines = ["| case | body KB | HTTP statuses | seconds | server's peak RSS, MB | reason given |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {name} | {row['body_kb']:.0f} | {', '.join(row['statuses'])} | {row['seconds']:.1f} | "
              f"{row['peak_mb']:.0f} | {row['error'][:110]} |" for name, row in rows.items()]
    lines += ["", f"Idle RSS {idle_mb:.0f} MB; server flags: {' '.join(args.server_flags) or 'defaults'}; "
              f"{per_pixel:.0f} bytes of peak RSS per decoded pixel (one-image case); the server "
              f"{'still answered' if alive else 'did NOT answer'} afterwards."]
    table = "\n".join(lines)
    print(table)
    if args.record:
        print(f"Appended to {record(table, section=SECTION)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
