"""The development server in a child process, as users run it, for load tests and benchmarks.

`ServerProcess` starts `python -m serving.devserver` on a free port of 127.0.0.1 (or of the
`--rest_api_host` its flags name) and reads its memory and threads from /proc/<pid>/status;
`flat_png` builds the decompression bomb both probe it with. Used by `benchmarks.load_test` and the
tests of the server as users start it.
"""
from __future__ import annotations

import re
import select
import struct
import subprocess
import sys
import zlib
from pathlib import Path

SERVER_START_SECONDS = 180
# The folder that holds the `serving` package (the repository root, or site-packages once installed):
# the child starts there so that `-m serving.devserver` is this copy of the server.
PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def flat_png(width: int, height: int) -> bytes:
    """A valid, all-black 1-bit gray PNG of width x height, built row by row (20000x20000: ~50 KB on the
    wire, 400 MB as 8-bit gray once decoded, 4.8 GB as float RGB): a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


class ServerProcess:
    """`python -m serving.devserver` in its own process, on a free port of 127.0.0.1; its memory and threads
    from /proc/<pid>/status. `flags`: more of the server's flags (its limits, another `--rest_api_host`).
    `origin` is the address it printed, `http://127.0.0.1:<port>` or `http://[::1]:<port>`; with `--port` in
    `flags`, `grpc_address` is the gRPC one it printed next (`127.0.0.1:<port>`), else None."""

    def __init__(self, base: Path, log: Path, flags: tuple[str, ...] = ()):
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "serving.devserver", "--model_name", "tfcolor", "--model_base_path", str(base),
             "--rest_api_port", "0", *flags], cwd=PACKAGE_PARENT, stdout=subprocess.PIPE, stderr=self._log,
            text=True)
        self.pid = self.process.pid
        ready, _, _ = select.select([self.process.stdout], [], [], SERVER_START_SECONDS)
        self.origin = self._read_address(log, r"(http://(?:\[[0-9a-fA-F:.]+\]|[^/:\s]+):\d+)/", ready)
        self.port = int(self.origin.rpartition(":")[2])
        # Printed right after the first line, so read without select (which cannot see a line already buffered).
        self.grpc_address = self._read_address(log, r"gRPC .* at (\S+:\d+)$") if "--port" in flags else None

    def _read_address(self, log: Path, pattern: str, ready: bool = True) -> str:
        """The address in the next line the server prints, which must match `pattern`."""
        line = self.process.stdout.readline() if ready else ""
        found = re.search(pattern, line.strip())
        if not found:
            self.stop()
            raise RuntimeError(f"the dev server did not start within {SERVER_START_SECONDS} s; its log: {log}")
        return found[1]

    def status(self, field: str) -> int:
        """A field of /proc/<pid>/status (VmRSS and VmHWM in kB, Threads)."""
        text = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(rf"^{field}:\s+(\d+)", text, re.M)[1])

    def reset_peak(self) -> bool:
        """Reset VmHWM to the current RSS; False where the kernel does not allow it."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
            return True
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        self._log.close()
