"""The dev server's log stays readable whatever clients send: their text escaped, repeated refusals rate-limited.

Clients choose the path, the signature name and the JSON that error messages quote. Written raw, a
newline in them starts a line that reads as the server's own, and an ESC sequence drives the
operator's terminal; so the server logs such text through `escape`. (Python's
`BaseHTTPRequestHandler.log_message` escapes control characters itself, but the server logs through
`logging`, which does not.) A client repeating a bad request must not flood the log either:
`RateLimit` lets a few lines a second through per key (status and client address) and counts the rest.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Hashable

LINES_PER_SECOND = 10
WINDOW_SECONDS = 1.0
MAX_KEYS = 1024  # beyond, the windows that have ended are forgotten (with what they held back)


def escape(text: str) -> str:
    """`text` with the backslash and every character `str.isprintable` refuses (C0 and C1 controls, DEL, line
    separators, format characters such as bidirectional overrides) as Python escapes (`\\n`, `\\x1b`,
    `\\u2028`): one line, no terminal escape, and no escape in the text that reads as one of ours."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(c if c.isprintable() and c != "\\" else c.encode("unicode_escape").decode("ascii") for c in text)


@dataclasses.dataclass
class _Window:
    start: float
    lines: int = 1
    held: int = 0


class RateLimit:
    """At most `per_second` lines per key in each window of one second; the others are counted, not written.

    Args:
        clock: the time in seconds, monotonic (tests pass their own).
    """

    def __init__(self, per_second: int = LINES_PER_SECOND, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_KEYS):
        self.per_second, self.max_keys = per_second, max_keys
        self._clock = clock
        self._windows: dict[Hashable, _Window] = {}
        self._lock = threading.Lock()  # handlers of several connections log at once

    def admit(self, key: Hashable) -> int | None:
        """None: hold this line back. Otherwise write it, after a line saying that the returned number of
        lines of `key` were held back since the last one written (none when 0)."""
        now = self._clock()
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now - window.start < WINDOW_SECONDS:
                if window.lines < self.per_second:
                    window.lines += 1
                    return 0
                window.held += 1
                return None
            if window is None and len(self._windows) >= self.max_keys:
                self._windows = {k: w for k, w in self._windows.items() if now - w.start < WINDOW_SECONDS}
            self._windows[key] = _Window(now)
            return window.held if window is not None else 0
