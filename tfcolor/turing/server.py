"""The Turing test's local web server: the page, new sessions and answers, over plain HTTP.

    GET  /              the page
    POST /api/sessions  a new session: {"token", "delay", "total", "pairs": [{"index", "left", "right"}]}
    POST /api/answers   {"token", "index", "choice", "response_ms"} -> {"recorded", "total", "complete"}

Nothing else is served: no summary, no outcome, no pair id, so a participant has nothing to learn
the answer key from. Refusals answer with their status (refusals.py) and `{"error": reason}`.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus

from tfcolor.turing import page
from tfcolor.turing.answers import parse_answer
from tfcolor.turing.bounded_http import BoundedHandler, BoundedHTTPServer
from tfcolor.turing.refusals import Refusal
from tfcolor.turing.store import SessionStore


class TuringHandler(BoundedHandler):
    server: TuringServer

    def _send(self, status: int, body: str, content_type: str = "application/json") -> None:
        payload = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        if self.path.split("?", 1)[0] in ("/", "/index.html"):
            self._send(HTTPStatus.OK, self.server.page, "text/html")
        else:
            self._send(HTTPStatus.NOT_FOUND, json.dumps({"error": f"no page at {self.path}"}))

    def do_POST(self):
        store = self.server.store
        try:
            body = self.read_body()
            if self.path == "/api/sessions":
                reply = store.new_session(self.client_address[0])
            elif self.path == "/api/answers":
                recorded = store.record(parse_answer(body))
                if recorded.summary is not None:
                    self.server.on_complete(recorded.session_id, recorded.summary)
                reply = recorded.reply
            else:
                self._send(HTTPStatus.NOT_FOUND, json.dumps({"error": f"no endpoint at {self.path}"}))
                return
        except Refusal as refusal:
            self._send(refusal.status, json.dumps({"error": str(refusal)}))
            self.discard_unread_body()
            return
        self._send(HTTPStatus.OK, json.dumps(reply))


class TuringServer(BoundedHTTPServer):
    """Serves one study's `store`; `on_complete(session_id, summary)` hears of each finished session (the operator's terminal)."""

    def __init__(self, address: tuple[str, int], store: SessionStore,
                 on_complete: Callable[[str, dict], None] = lambda session_id, summary: None):
        super().__init__(address, TuringHandler, store.limits)
        self.store = store
        self.page = page.render("server", store.delay)
        self.on_complete = on_complete
