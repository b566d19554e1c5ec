"""An HTTP server its clients cannot hold: handler threads capped, each request given a deadline to
arrive, request bodies read only up to a limit.

- Beyond `max_threads` connections at once, a new one gets a canned 503 and no thread.
- A connection carries one request (HTTP/1.0, the handler's default), and that request's line, headers
  and body must arrive within `request_timeout_s` in all: a client that sends a byte now and then
  (slowloris) or promises a longer body than it sends times out instead of holding a thread.
- A body longer than `max_request_bytes` is answered 413 without being read.

The dev server's defences (serving/connections.py, serving/limits.py) in small; tfcolor imports
nothing from serving/, so the ideas are copied, not the code.
"""
from __future__ import annotations

import contextlib
import io
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tfcolor.turing.limits import StudyLimits
from tfcolor.turing.refusals import BadRequest, PayloadTooLarge

# After a refusal, this much of the unread body is read and dropped (for at most DISCARD_SECONDS), so
# that closing the socket sends a FIN rather than a reset that could destroy the answer unread.
DISCARD_BYTES = 1 << 16
DISCARD_SECONDS = 1.0


class DeadlineReader(socket.SocketIO):
    """A socket's read side that raises TimeoutError once `deadline` (time.monotonic()) has passed.

    A per-read socket timeout alone lets a client that sends one byte a second hold a connection for
    ever; a deadline bounds the whole request.
    """

    def __init__(self, sock: socket.socket, deadline: float):
        super().__init__(sock, "rb")
        self.deadline = deadline

    def readinto(self, buffer) -> int | None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request did not arrive in time")
        self._sock.settimeout(remaining)
        return super().readinto(buffer)


def refuse(sock: socket.socket, message: str) -> None:
    """Answer 503 on a connection that gets no thread, then close it without blocking the accept loop."""
    body = json.dumps({"error": message}).encode("utf-8")
    head = (f"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Retry-After: 1\r\nConnection: close\r\n\r\n").encode("ascii")
    with contextlib.suppress(OSError):  # the client is gone, or has sent nothing more (BlockingIOError)
        sock.setblocking(False)
        sock.send(head + body)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(DISCARD_BYTES):  # what has arrived already, so that closing sends no reset
            pass
    sock.close()


class BoundedHandler(BaseHTTPRequestHandler):
    """A request handler whose reads stop at the request's deadline; `read_body` enforces the size limit."""

    server: BoundedHTTPServer

    def setup(self):
        self.timeout = self.server.limits.request_timeout_s  # each socket operation, writing the answer too
        super().setup()
        self.rfile.close()  # replaced by a reader that enforces the request's deadline
        self._reader = DeadlineReader(self.connection, time.monotonic() + self.timeout)
        self.rfile = io.BufferedReader(self._reader)
        self._unread = 0

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def read_body(self) -> bytes:
        """The request body.

        Raises:
            BadRequest: a Content-Length that is not a count of bytes, or a body sent in chunks.
            PayloadTooLarge: a body longer than `max_request_bytes`; it is left unread.
        """
        if "Transfer-Encoding" in self.headers:
            raise BadRequest("Transfer-Encoding is not accepted; send the body with a Content-Length")
        text = self.headers.get("Content-Length") or "0"
        if not text.isdigit():
            raise BadRequest(f"Content-Length must be a count of bytes, got {text!r}")
        length, limit = int(text), self.server.limits.max_request_bytes
        if length > limit:
            self._unread = length
            raise PayloadTooLarge(f"the request body has {length} bytes, more than the limit of {limit}")
        return self.rfile.read(length)

    def discard_unread_body(self) -> None:
        """Read and drop (some of) a refused body, after the answer is sent."""
        self._reader.deadline = min(self._reader.deadline, time.monotonic() + DISCARD_SECONDS)
        remaining = min(self._unread, DISCARD_BYTES)
        with contextlib.suppress(OSError):  # TimeoutError included: the client sent less
            while remaining > 0:
                chunk = self.rfile.read1(min(remaining, DISCARD_BYTES))
                if not chunk:
                    break
                remaining -= len(chunk)
        self._unread = 0


class BoundedHTTPServer(ThreadingHTTPServer):
    """A thread per connection, at most `limits.max_threads` at once."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BoundedHandler], limits: StudyLimits):
        self.limits = limits
        self._slots = threading.BoundedSemaphore(limits.max_threads)
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            refuse(request, f"the server handles {self.limits.max_threads} connections at once, its limit; retry later")
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request, client_address):
        """A client that reset or dropped its connection is no error of the server's; anything else is reported."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)
