"""The Turing test's server against a participant who tries to game it, over real HTTP on 127.0.0.1.

The pairs are stand-ins (`R<i>` / `C<i>` for the real and colorized image of pair i), so a test can
read which side is real the way an attacker who had learnt the key would, and no model is needed.
"""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections import Counter

import pytest

from tfcolor.turing.limits import StudyLimits
from tfcolor.turing.pairs import Pair
from tfcolor.turing.server import TuringServer
from tfcolor.turing.store import SessionStore
from tfcolor.turing.study import StudyMismatchError, default_folder, study_id

pytestmark = pytest.mark.timeout(60)

PAIRS = [Pair(i, f"data:image/png;base64,R{i}", f"data:image/png;base64,C{i}") for i in range(6)]
REPLY_KEYS = {"recorded", "total", "complete"}


@pytest.fixture
def serve(tmp_path):
    """start(**limits) -> (port, results folder): a real TuringServer in a thread, shut down after the test."""
    started = []

    def start(pairs=PAIRS, delay=None, folder="results", **limits):
        store = SessionStore(tmp_path / folder, pairs, delay, "run", StudyLimits(**limits))
        server = TuringServer(("127.0.0.1", 0), store)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        started.append(server)
        return server.server_address[1], tmp_path / folder

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def request(port: int, method: str, path: str, body: bytes | dict | None = None,
            headers: dict | None = None) -> tuple[int, dict | str]:
    """One request on a fresh connection: (status, the JSON body, or the text where it is not JSON)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        payload = json.dumps(body).encode() if isinstance(body, dict) else body
        connection.request(method, path, body=payload, headers=headers or {})
        response = connection.getresponse()
        text = response.read().decode()
    finally:
        connection.close()
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text


def new_session(port: int) -> dict:
    status, session = request(port, "POST", "/api/sessions", {})
    assert status == 200, session
    return session


def answer(port: int, token: str, index: int, choice: str | None, response_ms: float | None = 800):
    return request(port, "POST", "/api/answers", {"token": token, "index": index, "choice": choice,
                                                  "response_ms": response_ms})


def colorized_side(pair: dict) -> str:
    """What an attacker who knows the key would pick: the side showing the colorized image."""
    return "left" if ",C" in pair["left"] else "right"


def summary(results) -> dict:
    return json.loads((results / "summary.json").read_text())


def test_sessions_that_answer_one_pair_and_time_out_the_rest_learn_nothing(serve):
    port, results = serve(sessions_per_client=12)
    for _ in range(12):
        session = new_session(port)
        replies = [answer(port, session["token"], 0, "left")]
        replies += [answer(port, session["token"], index, None, None) for index in range(1, len(PAIRS))]
        assert all(status == 200 and set(reply) == REPLY_KEYS for status, reply in replies)
        assert replies[-1][1] == {"recorded": len(PAIRS), "total": len(PAIRS), "complete": True}
    assert summary(results)["counted"]["sessions"] == 12  # recorded, just not told
    for path in ("/summary.json", "/api/summary", "/results/summary.json", "/sessions", "/answers.csv"):
        status, reply = request(port, "GET", path)
        assert status == 404 and "fooling" not in json.dumps(reply)


def test_a_session_shows_positions_and_images_only_in_its_own_order_and_sides(serve):
    port, _ = serve(sessions_per_client=40)
    real_on_left, position_of_pair_0 = Counter(), Counter()
    for _ in range(40):
        session = new_session(port)
        assert set(session) == {"token", "delay", "total", "pairs"} and session["total"] == len(PAIRS)
        assert [pair["index"] for pair in session["pairs"]] == list(range(len(PAIRS)))
        for pair in session["pairs"]:
            assert set(pair) == {"index", "left", "right"}
            real_on_left[",R" in pair["left"]] += 1
            if pair["left"].endswith(("R0", "C0")):
                position_of_pair_0[pair["index"]] += 1
    # 240 sides and 40 positions drawn at random: all on one side, or pair 0 at one or two places, is
    # (1/2)^239 or less likely than 1e-20 by chance.
    assert real_on_left[True] > 60 and real_on_left[False] > 60
    assert len(position_of_pair_0) >= 3


def test_tokens_are_long_random_and_different_for_each_session(serve):
    port, _ = serve()
    tokens = {new_session(port)["token"] for _ in range(3)}
    assert len(tokens) == 3 and all(len(token) >= 40 for token in tokens)


def test_an_answer_without_a_valid_token_is_refused_with_its_reason(serve, tmp_path):
    port, _ = serve()
    status, reply = request(port, "POST", "/api/answers", {"index": 0, "choice": "left"})
    assert status == 400 and "token" in reply["error"]
    status, reply = answer(port, "made-up-token", 0, "left")
    assert status == 403 and "unknown session token" in reply["error"]
    other_port, _ = serve(folder="other-run")
    token_of_another_server = new_session(other_port)["token"]
    status, reply = answer(port, token_of_another_server, 0, "left")
    assert status == 403


def test_each_pair_takes_one_answer_and_only_positions_of_the_session(serve):
    port, results = serve()
    token = new_session(port)["token"]
    assert answer(port, token, 0, "left")[0] == 200
    status, reply = answer(port, token, 0, "right")
    assert status == 409 and "answered already" in reply["error"]
    status, reply = answer(port, token, len(PAIRS), "left")
    assert status == 400 and "not a pair shown" in reply["error"]
    for index in range(1, len(PAIRS)):
        assert answer(port, token, index, "right")[0] == 200
    status, reply = answer(port, token, 1, "left")
    assert status == 429 and "answered all" in reply["error"]
    (saved,) = (results / "sessions").glob("*.json")
    answers = json.loads(saved.read_text())["answers"]
    assert len(answers) == len(PAIRS) and answers[0]["choice"] == "left"


@pytest.mark.parametrize("body", [
    '{"token": "%s", "index": 0, "choice": "left", "response_ms": NaN}',
    '{"token": "%s", "index": 0, "choice": "left", "response_ms": Infinity}',
    '{"token": "%s", "index": 0, "choice": "left", "response_ms": -Infinity}',
    '{"token": "%s", "index": 0, "choice": "left", "response_ms": 1e400}',
    '{"token": "%s", "index": 0, "choice": "left", "response_ms": -5}',
    '{"token": "%s", "index": 0, "choice": "left", "response_ms": true}',
    '{"token": "%s", "index": 1.5, "choice": "left"}',
    '{"token": "%s", "index": 0.0, "choice": "left"}',
    '{"token": "%s", "index": true, "choice": "left"}',
    '{"token": "%s", "index": "0", "choice": "left"}',
    '{"token": "%s", "index": -1, "choice": "left"}',
    '{"token": "%s", "index": 0, "choice": 1}',
    '{"token": "%s", "index": 0}',
    '{"token": "%s", "index": 0, "choice": "left", "fooled": false}',
    '["%s", 0, "left"]',
    '{"token": "%s", "index": 0, "choice": "left"',
    '%s',
])
def test_non_finite_non_integer_or_unexpected_fields_are_a_400_and_record_nothing(serve, body):
    port, results = serve()
    token = new_session(port)["token"]
    status, reply = request(port, "POST", "/api/answers", (body % token).encode())
    assert status == 400 and reply["error"]
    (saved,) = (results / "sessions").glob("*.json")
    assert json.loads(saved.read_text())["answers"] == []
    assert answer(port, token, 0, "left", 812.5)[0] == 200  # the pair is still open for a proper answer


def test_sessions_per_address_are_bounded_with_a_429_across_server_restarts(serve):
    port, _ = serve(sessions_per_client=2)
    new_session(port), new_session(port)
    status, reply = request(port, "POST", "/api/sessions", {})
    assert status == 429 and "--max-sessions-per-client" in reply["error"]
    restarted, _ = serve(sessions_per_client=2)  # same results folder: the study remembers its sessions
    assert request(restarted, "POST", "/api/sessions", {})[0] == 429


def test_a_flood_that_always_picks_the_colorized_side_is_bounded_and_counted_as_one_client(serve):
    port, results = serve(sessions_per_client=3)
    honest = new_session(port)
    for pair in honest["pairs"]:
        answer(port, honest["token"], pair["index"], "left" if ",R" in pair["left"] else "right")
    statuses = []
    for _ in range(20):
        status, session = request(port, "POST", "/api/sessions", {})
        statuses.append(status)
        if status == 200:
            for pair in session["pairs"][: len(PAIRS) - 1]:  # half sessions do not count either
                answer(port, session["token"], pair["index"], colorized_side(pair))
    assert statuses.count(200) == 2 and statuses.count(429) == 18
    published = summary(results)
    assert published["counted"] == {"sessions": 1, "answers": len(PAIRS), "clients": 1, "most_sessions_from_one_client": 1}
    assert published["not_counted"] == {"incomplete_sessions": 2, "answers": 2 * (len(PAIRS) - 1)}
    assert published["overall"]["fooling_rate"] == 0.0


def test_bodies_beyond_the_limit_get_a_413_without_waiting_for_them(serve):
    port, _ = serve(max_request_bytes=4096, request_timeout_s=5)
    status, reply = request(port, "POST", "/api/answers", b"x" * 5000)
    assert status == 413 and "4096" in reply["error"]
    started = time.monotonic()
    status, _ = request(port, "POST", "/api/answers", b"{}", headers={"Content-Length": str(10**9)})
    assert status == 413 and time.monotonic() - started < 4
    status, reply = request(port, "POST", "/api/answers", b"{}", headers={"Content-Length": "-3"})
    assert status == 400 and "Content-Length" in reply["error"]


def test_a_client_that_trickles_its_request_is_cut_off_at_the_deadline(serve):
    port, _ = serve(request_timeout_s=1)
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    started, closed = time.monotonic(), False
    try:
        for byte in b"POST /api/sessions HTTP/1.0\r\nX-Slow: " + b"a" * 40:
            client.sendall(bytes([byte]))
            time.sleep(0.2)  # each byte well within a per-read timeout; the whole request is not
    except OSError:
        closed = True
    if not closed:
        closed = client.recv(100) == b""
    client.close()
    assert closed and time.monotonic() - started < 4


def test_connections_beyond_the_thread_cap_get_a_503_and_a_freed_slot_serves_again(serve):
    port, _ = serve(max_threads=1, request_timeout_s=5)
    idle = socket.create_connection(("127.0.0.1", port), timeout=5)
    time.sleep(0.3)  # accepted: it holds the one handler thread, sending nothing
    status, reply = request(port, "GET", "/")
    assert status == 503 and "1 connections at once" in reply["error"]
    idle.close()
    deadline = time.monotonic() + 5
    while request(port, "GET", "/")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_a_results_folder_holds_one_study_and_refuses_another(tmp_path):
    SessionStore(tmp_path / "results", PAIRS, None, "run").new_session("127.0.0.1")
    SessionStore(tmp_path / "results", PAIRS, None, "run")  # the same study resumes
    other_pairs = [Pair(i, f"data:image/png;base64,R{i}", f"data:image/png;base64,X{i}") for i in range(6)]
    for pairs, delay in [(other_pairs, None), (PAIRS, 2.0), (PAIRS[:3], None)]:
        with pytest.raises(StudyMismatchError, match=f"not of this one, study {study_id(pairs, delay)}"):
            SessionStore(tmp_path / "results", pairs, delay, "run")
    (tmp_path / "old" / "sessions").mkdir(parents=True)
    (tmp_path / "old" / "sessions" / "20240101-000000-abcd.json").write_text("{}")
    with pytest.raises(StudyMismatchError, match="no study.json"):
        SessionStore(tmp_path / "old", PAIRS, None, "run")
    assert default_folder("runs/gan", study_id(PAIRS, None)) != default_folder("runs/gan", study_id(other_pairs, None))
    assert default_folder("runs/gan", study_id(PAIRS, None)).name.startswith("turing-gan-")
