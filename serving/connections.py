"""Connection-level defences of the dev server: request deadlines, a cap on open connections, and
refusals that the client actually reads.

- A request (its line, headers and body) must arrive within a deadline; a slow or stalled client
  (slowloris, a Content-Length longer than the body) times out instead of holding a thread forever.
- Beyond `max_connections` open connections, a new one gets a canned 503 instead of a thread.
- A refused connection is closed gracefully: the answer, then our FIN, then whatever the client still
  sends is read and dropped until it closes. Closing a socket with unread input makes the kernel send
  a reset, which can destroy the answer before the client reads it (the issue's `ConnectionResetError`).
"""
from __future__ import annotations

import json
import queue
import selectors
import socket
import threading
import time

LINGER_SECONDS = 2.0
MAX_LINGERING = 1024


class ListenError(OSError):
    """A server (REST or gRPC) cannot listen where it was asked: a host name that does not resolve, an address
    that is not this machine's, a port in use or out of range."""


class DeadlineReader(socket.SocketIO):
    """A socket's read side that raises TimeoutError once `deadline` (time.monotonic()) has passed.

    A per-read socket timeout alone lets a client that sends one byte a second hold a connection
    for ever; this bounds the whole request. `deadline = None` reads with the socket's own timeout.
    """

    def __init__(self, sock: socket.socket):
        super().__init__(sock, "rb")
        self.deadline: float | None = None

    def readinto(self, buffer) -> int | None:
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the request was not received in time")
            self._sock.settimeout(remaining)
        return super().readinto(buffer)


def canned_response(status: int, reason: str, message: str, retry_after_s: int) -> bytes:
    """A complete HTTP/1.1 answer with a JSON error body, for a connection that gets no handler."""
    body = json.dumps({"error": message}).encode("utf-8")
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Retry-After: {retry_after_s}\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + body


class OpenConnections:
    """A count of open connections against a cap, safe across the accept and handler threads."""

    def __init__(self, limit: int):
        self.limit = limit
        self.count = 0
        self._lock = threading.Lock()

    def try_open(self) -> bool:
        with self._lock:
            if self.count >= self.limit:
                return False
            self.count += 1
            return True

    def close(self) -> None:
        with self._lock:
            self.count -= 1


class LingeringCloser:
    """Closes refused sockets gracefully, all from one thread: read until the client closes, or
    LINGER_SECONDS, whichever comes first, then close. Beyond MAX_LINGERING sockets, close at once."""

    def __init__(self):
        self._incoming: queue.SimpleQueue[socket.socket] = queue.SimpleQueue()
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lingering-closer", daemon=True)
        self._thread.start()

    def refuse(self, sock: socket.socket, answer: bytes) -> None:
        """Send `answer` (small: it fits the socket's buffer), half-close, and linger before closing."""
        try:
            sock.setblocking(False)
            sock.send(answer)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the client is gone already
            sock.close()
            return
        self._incoming.put(sock)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        deadlines: dict[socket.socket, float] = {}
        while not self._stop.is_set():
            while not self._incoming.empty():
                sock = self._incoming.get()
                if len(deadlines) >= MAX_LINGERING:
                    sock.close()
                    continue
                deadlines[sock] = time.monotonic() + LINGER_SECONDS
                self._selector.register(sock, selectors.EVENT_READ)
            for key, _ in self._selector.select(timeout=0.1):
                try:
                    finished = not key.fileobj.recv(1 << 16)
                except BlockingIOError:
                    finished = False
                except OSError:
                    finished = True
                if finished:
                    deadlines[key.fileobj] = 0.0
            now = time.monotonic()
            for sock in [sock for sock, deadline in deadlines.items() if deadline <= now]:
                self._selector.unregister(sock)
                sock.close()
                del deadlines[sock]
        for sock in deadlines:
            sock.close()
        self._selector.close()
