"""Names and numbers as TF-Serving reads them, log lines no client can forge or flood, IPv6 hosts (issue 21):
the dev server in its own process, as users run it, over real HTTP on 127.0.0.1 and ::1."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from serving.devserver import DevServer
from serving.devserver_process import PACKAGE_PARENT, ServerProcess
from serving.log_lines import RateLimit, escape
from serving.model_registry import ModelRegistry
from tests.helpers import STRAY_VERSION_NAMES, copy_exported

# What a client would like the operator to read as the server's own line.
FAKE_LINE = "2024-01-01 00:00:00,000 INFO serving.model_registry: model tfcolor: version 9 loaded and serving"
NOT_LOCAL = "203.0.113.1"  # TEST-NET-3 (RFC 5737): never an address of this machine
ANSWER_TIMEOUT = 60.0  # seconds: far above any answer here, only there so a hung server fails instead of hangs
PROCESS_TIMEOUT = 300  # seconds: far above a server's start (TensorFlow's import), only there so a hang fails


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=ANSWER_TIMEOUT) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=ANSWER_TIMEOUT) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def available_versions(origin: str) -> list[int]:
    status, body = get(f"{origin}/v1/models/tfcolor")
    assert status == 200, body
    return [int(s["version"]) for s in body["model_version_status"] if s["state"] == "AVAILABLE"]


def wait_for(condition, timeout: float = ANSWER_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@contextlib.contextmanager
def running(base: Path, log: Path, *flags: str):
    process = ServerProcess(base, log, flags)
    try:
        yield process
    finally:
        process.stop()


def log_lines(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").splitlines()


def test_escaped_text_is_one_line_of_printable_characters():
    assert escape("plain text, ² and é kept") == "plain text, ² and é kept"
    assert escape("a\nb\rc\td\x1b[31me\x7f\x85\u2028\u202e\\") == "a\\nb\\rc\\td\\x1b[31me\\x7f\\x85\\u2028\\u202e\\\\"


def test_repeated_refusals_are_rate_limited_per_status_and_client_then_counted():
    now = [100.0]
    limit = RateLimit(per_second=3, clock=lambda: now[0])
    key = (400, "192.0.2.7")
    assert [limit.admit(key) for _ in range(5)] == [0, 0, 0, None, None]
    assert limit.admit((400, "192.0.2.8")) == 0  # another client has its own budget
    assert limit.admit((404, "192.0.2.7")) == 0  # and so has another status
    now[0] = 100.5
    assert limit.admit(key) is None
    now[0] = 101.0  # a second after its window began
    assert limit.admit(key) == 3  # written, after a line saying that 3 were held back
    assert [limit.admit(key) for _ in range(3)] == [0, 0, None]


def test_the_server_logs_a_few_refusals_a_second_per_client_then_how_many_it_held_back(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="serving.handler")
    now = [0.0]
    dev = DevServer(("127.0.0.1", 0), ModelRegistry("tfcolor", tmp_path), poll_seconds=60)
    dev.state = dataclasses.replace(dev.state, refusal_log=RateLimit(per_second=2, clock=lambda: now[0]))
    threading.Thread(target=dev.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{dev.server_address[1]}/v1/models/other"
        assert [get(url)[0] for _ in range(5)] == [404] * 5
        now[0] = 1.0
        assert get(url)[0] == 404
    finally:
        dev.shutdown()
        dev.server_close()
    refusal = "GET /v1/models/other -> 404: Servable not found for request: Latest(other)"
    messages = [record.getMessage() for record in caplog.records if record.name == "serving.handler"]
    assert messages == [refusal, refusal, "127.0.0.1: 3 similar lines (HTTP 404) suppressed", refusal]


@pytest.mark.slow
def test_stray_folders_are_ignored_with_one_line_each_and_new_versions_still_load(exported_base, tmp_path):
    base = copy_exported(exported_base, tmp_path)
    (base / STRAY_VERSION_NAMES[0]).mkdir()
    shutil.copytree(base / "1", base / STRAY_VERSION_NAMES[1])  # a complete SavedModel: it would be served, read as a version
    log = tmp_path / "devserver.log"
    with running(base, log, "--file_system_poll_wait_seconds", "0.2") as server:
        assert available_versions(server.origin) == [1]
        shutil.copytree(base / "1", base / ".copying")
        os.rename(base / ".copying", base / "2")  # as an export does: the version appears complete
        assert wait_for(lambda: available_versions(server.origin) == [2])  # polls went on after the first look
        assert get(f"{server.origin}/v1/models/tfcolor/versions/2/metadata")[0] == 200
    lines = log_lines(log)
    for name in STRAY_VERSION_NAMES:
        assert len([line for line in lines if f'ignoring the folder "{name}"' in line]) == 1, lines
    assert not any(".copying" in line or "Traceback" in line for line in lines), lines


@pytest.mark.slow
def test_client_text_cannot_forge_a_log_line_or_reach_the_terminal(exported_base, tmp_path):
    log = tmp_path / "devserver.log"
    signature = f"nope\n{FAKE_LINE}\x1b[31m"
    with running(exported_base, log) as server:
        status, body = post(f"{server.origin}/v1/models/tfcolor:predict", {"signature_name": signature, "instances": [1]})
        assert status == 400 and signature in body["error"]  # the client gets its own text back, as JSON escapes it
        with socket.create_connection(("127.0.0.1", server.port), timeout=ANSWER_TIMEOUT) as sock:
            sock.sendall(b"GET /v1/\x1b[2J\x1b]0;pwned\x07 HTTP/1.1\r\nHost: x\r\n\r\n")  # clear screen, set title
            assert sock.recv(1024).startswith(b"HTTP/1.1 404 ")
        assert wait_for(lambda: sum("-> 40" in line for line in log_lines(log)) == 2)
    assert b"\x1b" not in log.read_bytes() and b"\x07" not in log.read_bytes()
    lines = log_lines(log)
    assert not any(line.startswith(FAKE_LINE) for line in lines), lines
    assert any(f'"nope\\n{FAKE_LINE}\\x1b[31m" not found' in line and "-> 400: " in line for line in lines), lines
    assert any("GET /v1/\\x1b[2J\\x1b]0;pwned\\x07 -> 404: " in line for line in lines), lines


def ipv6_loopback_missing() -> str | None:
    """Why this machine cannot listen on ::1, or None when it can."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError as error:
        return f"this machine has no IPv6 loopback (binding ::1: {error})"
    return None


@pytest.mark.slow
@pytest.mark.parametrize("host", ["::1", "::"])
def test_the_server_listens_on_ipv6_hosts(exported_base, tmp_path, host):
    missing = ipv6_loopback_missing()
    if missing:
        pytest.skip(missing)
    with running(exported_base, tmp_path / "devserver.log", "--rest_api_host", host) as server:
        assert server.origin == f"http://[{host}]:{server.port}"
        status, body = get(f"http://[::1]:{server.port}/v1/models/tfcolor")
    assert status == 200 and body["model_version_status"][0]["state"] == "AVAILABLE"


def start(base: Path, host: str, port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "serving.devserver", "--model_name", "tfcolor", "--model_base_path",
                             str(base), "--rest_api_host", host, "--rest_api_port", str(port)],
                            cwd=PACKAGE_PARENT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_an_address_it_cannot_listen_on_is_one_error_line_and_exit_1(tmp_path):
    with socket.socket() as probe:
        try:
            probe.bind((NOT_LOCAL, 0))
        except OSError:
            pass
        else:
            pytest.skip(f"this machine lets sockets bind {NOT_LOCAL}, not its own (net.ipv4.ip_nonlocal_bind)")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        processes = {(NOT_LOCAL, 0): start(tmp_path, NOT_LOCAL, 0), ("127.0.0.1", busy): start(tmp_path, "127.0.0.1", busy)}
        outputs = {address: process.communicate(timeout=PROCESS_TIMEOUT) for address, process in processes.items()}
    for (host, port), (out, err) in outputs.items():
        assert processes[host, port].returncode == 1 and out == "", err
        assert "Traceback" not in err, err
        errors = [line for line in err.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and errors[0].startswith(f"error: cannot listen on {host!r} port {port}: "), err
