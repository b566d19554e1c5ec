"""The Turing-test server's bounds: what one participant may start and send, and what the server takes on at once."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class StudyLimits:
    """Everything that bounds a participant's weight in the study and the server's work.

    Args:
        sessions_per_client: int. sessions one remote address may start over the study's life (earlier
            runs of the server on the same results folder count); a page reload is a new session.
            Beyond, HTTP 429. Defaults to 3.
        max_sessions: int. sessions one run of the server starts, all clients together (each is held in
            memory); beyond, HTTP 429. Defaults to 2000.
        max_request_bytes: int. request bodies longer than this get HTTP 413 without being read. Defaults to 4096.
        request_timeout_s: float. a request (line, headers and body) must arrive within this, and each
            write of the answer must finish within it, or the connection is closed. Defaults to 10.
        max_threads: int. connections handled at once; beyond, HTTP 503 without a thread. Defaults to 32.
    """

    sessions_per_client: int = 3
    max_sessions: int = 2000
    max_request_bytes: int = 4096
    request_timeout_s: float = 10.0
    max_threads: int = 32

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if not getattr(self, field.name) > 0:
                raise ValueError(f"StudyLimits.{field.name} must be positive, got {getattr(self, field.name)}")
