"""The Turing test's local web server: the page, new sessions and answers, over plain HTTP."""
from __future__ import annotations

import json
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tfcolor.turing import page
from tfcolor.turing.store import AnswerError, SessionStore

MAX_ANSWER_BYTES = 4096
_ANSWER_PATH = re.compile(r"^/api/sessions/(?P<session>[\w-]+)/answers$")


class TuringHandler(BaseHTTPRequestHandler):
    server: TuringServer

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def _send(self, status: int, body: str, content_type: str = "application/json") -> None:
        payload = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(payload)

    def _error(self, status: int, message: str) -> None:
        self._send(status, json.dumps({"error": message}))

    def do_GET(self):
        if self.path.split("?", 1)[0] in ("/", "/index.html"):
            self._send(HTTPStatus.OK, self.server.page, "text/html")
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no page at {self.path}")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_ANSWER_BYTES:
            self._error(HTTPStatus.BAD_REQUEST, "request too large")
            return
        body = self.rfile.read(length)
        if self.path == "/api/sessions":
            self._send(HTTPStatus.OK, json.dumps(self.server.store.new_session()))
            return
        match = _ANSWER_PATH.match(self.path)
        if not match:
            self._error(HTTPStatus.NOT_FOUND, f"no endpoint at {self.path}")
            return
        try:
            answer = json.loads(body)
            progress = self.server.store.record(match["session"], answer["pair_id"], answer.get("choice"),
                                                answer.get("response_ms"))
        except (ValueError, KeyError, TypeError, AnswerError) as error:
            self._error(HTTPStatus.BAD_REQUEST, f"bad answer: {error}")
            return
        if progress["complete"]:
            self.server.on_complete(match["session"], progress["summary"])
        self._send(HTTPStatus.OK, json.dumps(progress))


class TuringServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, store: SessionStore, on_complete=lambda session_id, summary: None):
        super().__init__(address, TuringHandler)
        self.store = store
        self.page = page.render("server", store.delay)
        self.on_complete = on_complete
