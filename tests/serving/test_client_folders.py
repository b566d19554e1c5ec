"""The client on folders: images found recursively, N requests in flight, busy refusals retried after their
`Retry-After`, a rerun that sends only what is missing, and a progress line on a terminal.

The server tests run the dev server in-process over real HTTP on 127.0.0.1 and count its requests on its
metrics endpoint; every wait is bounded (socket timeouts, deadlines)."""
from __future__ import annotations

import io
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving import client
from serving.client import ServingError
from serving.client_folders import Console, Outcome, colorize_all, plan_outputs, progress_line
from serving.limits import METRICS_PATH
from serving.model_registry import ModelRegistry
from tests.helpers import copy_exported, photo_crops, save_image
from tests.serving.test_serving_load import ANSWER_TIMEOUT, running, server_port

FOLDER_IMAGES = ("a.jpg", "b.PNG", "sub/c.jpeg", "sub/deeper/d.png", "sub/deeper/e.bmp", "other/f.jpg")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def photo_folder(root: Path) -> Path:
    for index, name in enumerate(FOLDER_IMAGES):
        save_image(root / name, photo_crops(1, seed=index)[0])
    return root


def outputs(out: Path) -> dict[str, bytes]:
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*.png"))}


def test_folders_are_searched_recursively_and_hidden_files_other_files_and_the_output_folder_are_left_out(tmp_path):
    photos = photo_folder(tmp_path / "photos")
    save_image(photos / ".cache" / "g.jpg", photo_crops(1)[0])
    save_image(photos / "colorized" / "z.png", photo_crops(1)[0])  # --out inside the folder: an earlier run's output
    (photos / "._a.jpg").write_bytes(b"macOS metadata")
    (photos / "notes.txt").write_text("not an image")
    out = photos / "colorized"
    plan = plan_outputs([photos], out)
    assert plan.targets == {photos / name: out / Path(name).with_suffix(".png") for name in sorted(FOLDER_IMAGES)}
    assert plan.skipped == []
    (out / "sub").mkdir()
    (out / "sub" / "c.png").write_bytes(b"written before")
    rerun = plan_outputs([photos], out)
    assert rerun.skipped == [out / "sub" / "c.png"] and photos / "sub" / "c.jpeg" not in rerun.targets
    assert plan_outputs([photos], out, overwrite=True).targets == plan.targets
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="empty holds no image file"):
        plan_outputs([tmp_path / "empty"], out)


def test_the_progress_line_counts_rate_and_time_left():
    assert progress_line(12, 200, 3, 1, 4.8) == "[ 12/200] 3 in flight, 2.5 img/s, 1 failed, eta 1m15s"
    assert progress_line(0, 7, 2, 0, 3.0) == "[0/7] 2 in flight, -- img/s, 0 failed, eta ?"
    assert progress_line(1, 7201, 1, 0, 1.0).endswith("eta 2h00m")
    assert progress_line(150, 200, 1, 0, 10.0).endswith("eta 3s")


def test_the_progress_line_is_drawn_in_place_on_a_terminal_and_absent_otherwise():
    terminal, out = Terminal(), io.StringIO()
    console = Console(3, out, terminal)
    console.show(0, 1, 0)
    console.print(Outcome("a.jpg -> out/a.png"))
    console.print(Outcome("b.jpg: error: HTTP 400", failed=True))
    console.show(2, 1, 1)
    console.close()
    assert terminal.getvalue().startswith("\r\x1b[K[0/3] 1 in flight, -- img/s, 0 failed, eta ?\r\x1b[K")
    assert "b.jpg: error: HTTP 400\n" in terminal.getvalue() and "\r\x1b[K[2/3] 1 in flight, " in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\x1b[K") and out.getvalue() == "a.jpg -> out/a.png\n"
    piped, out = io.StringIO(), io.StringIO()
    console = Console(3, out, piped)
    console.show(0, 1, 0)
    console.print(Outcome("b.jpg: error: HTTP 400", failed=True))
    console.close()
    assert piped.getvalue() == "b.jpg: error: HTTP 400\n"


def test_at_most_the_concurrency_runs_at_once_and_all_of_it_is_used():
    started = threading.Barrier(4, timeout=ANSWER_TIMEOUT)  # breaks unless 4 jobs run at the same time
    running_now, most = [0], [0]
    lock = threading.Lock()

    def work(path: Path, target: Path) -> Outcome:
        with lock:
            running_now[0] += 1
            most[0] = max(most[0], running_now[0])
        if int(path.stem) < 4:
            started.wait()
        time.sleep(0.01)
        with lock:
            running_now[0] -= 1
        return Outcome(f"{path} -> {target}", failed=path.stem == "9")

    targets = {Path(f"{index}"): Path(f"out/{index}.png") for index in range(12)}
    tally = colorize_all(targets, work, 4, Console(12, io.StringIO(), io.StringIO()), threading.Event())
    assert (tally.written, tally.failed, tally.interrupted, most[0]) == (11, 1, False, 4)


def test_an_interruption_stops_retries_and_leaves_what_has_not_started():
    stop, ran = threading.Event(), []

    def work(path: Path, target: Path) -> Outcome:
        ran.append(path)
        if path.stem == "1":
            raise KeyboardInterrupt  # reaches the main thread as Ctrl-C does
        return Outcome("ok")

    tally = colorize_all({Path(f"{index}"): Path(f"{index}.png") for index in range(50)}, work, 1,
                         Console(50, io.StringIO(), io.StringIO()), stop)
    assert tally.interrupted and stop.is_set() and tally.written == 1 and len(ran) < 50


def test_busy_refusals_are_retried_after_their_retry_after_capped_and_others_are_not():
    def colorizer(*failures: ServingError):
        calls = []

        def colorize_one(image_bytes: bytes) -> client.Colorized:
            calls.append(image_bytes)
            if len(calls) <= len(failures):
                raise failures[len(calls) - 1]
            return client.Colorized(b"png", 1, 1, 0.0)
        return colorize_one, calls

    busy = ServingError("HTTP 503: overloaded", 503, retry_after_s=1.0, busy=True)
    slow = ServingError("HTTP 503: overloaded", 503, retry_after_s=3600.0, busy=True)
    waits = []
    colorize_one, calls = colorizer(busy, slow)
    assert client.colorize_with_retries(colorize_one, b"x", 5, lambda s: waits.append(s) or False)[1] == 2
    assert len(calls) == 3 and 1.0 <= waits[0] <= 1.2 and waits[1] == client.MAX_RETRY_WAIT_SECONDS
    final = ServingError("HTTP 400: Unknown image file format", 400)
    colorize_one, calls = colorizer(final)
    with pytest.raises(ServingError) as raised:
        client.colorize_with_retries(colorize_one, b"x", 5, lambda s: pytest.fail("a 400 was retried"))
    assert raised.value is final and len(calls) == 1
    colorize_one, calls = colorizer(*[busy] * 9)
    with pytest.raises(ServingError, match=r"HTTP 503: overloaded \(after 2 retries\)") as raised:
        client.colorize_with_retries(colorize_one, b"x", 2, lambda s: False)
    assert len(calls) == 3 and raised.value.status == 503 and raised.value.busy
    colorize_one, calls = colorizer(*[busy] * 9)
    with pytest.raises(ServingError, match="overloaded$"):
        client.colorize_with_retries(colorize_one, b"x", 5, lambda s: True)  # the run stops: no retry
    assert len(calls) == 1


def test_retry_after_is_read_in_seconds_or_as_an_http_date():
    assert client.retry_after_seconds("3") == 3.0 and client.retry_after_seconds("-2") == 0.0
    later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=120), usegmt=True)
    assert 100 < client.retry_after_seconds(later) <= 120
    assert [client.retry_after_seconds(value) for value in (None, "soon", "nan", "inf")] == [None] * 4


# The server tests.

@pytest.fixture(scope="module")
def registry(exported_base, tmp_path_factory):
    return ModelRegistry("tfcolor", copy_exported(exported_base, tmp_path_factory.mktemp("folders")))


@pytest.fixture(scope="module")
def server(registry):
    with running(registry, max_concurrent_requests=4, max_queue=8, request_timeout_s=10.0) as dev:
        dev.url = f"http://127.0.0.1:{server_port(dev)}"
        yield dev


def request_counts(url: str) -> dict[str, float]:
    """The server's predict requests so far, by status (`OK`, `INVALID_ARGUMENT`, `UNAVAILABLE`, ...)."""
    with urllib.request.urlopen(url + METRICS_PATH, timeout=ANSWER_TIMEOUT) as answer:
        families = {family.name: family for family in text_string_to_metric_families(answer.read().decode())}
    family = families.get(":tensorflow:serving:request_count")
    return {sample.labels["status"]: sample.value for sample in (family.samples if family else [])}


def requests_sent(url: str, before: dict[str, float]) -> dict[str, float]:
    return {status: count - before.get(status, 0) for status, count in request_counts(url).items()
            if count != before.get(status, 0)}


def run_client(url: str, *args: str) -> int:
    return client.main([*args, "--url", url, "--timeout", str(ANSWER_TIMEOUT)])


@pytest.mark.slow
def test_a_folder_through_four_requests_in_flight_is_written_as_one_at_a_time_writes_it_and_a_rerun_sends_nothing(
        server, tmp_path, capsys):
    photos = photo_folder(tmp_path / "photos")
    before = request_counts(server.url)
    assert run_client(server.url, str(photos), "--out", str(tmp_path / "one")) == 0
    before_four = request_counts(server.url)
    assert run_client(server.url, str(photos), "--out", str(tmp_path / "four"), "--concurrency", "4") == 0
    assert requests_sent(server.url, before_four) == {"OK": len(FOLDER_IMAGES)}
    written = outputs(tmp_path / "four")
    assert sorted(written) == sorted(Path(name).with_suffix(".png").as_posix() for name in FOLDER_IMAGES)
    assert written == outputs(tmp_path / "one")
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"Colorized {len(FOLDER_IMAGES)} of {len(FOLDER_IMAGES)} images into {tmp_path / 'four'}"
    before_rerun = request_counts(server.url)
    assert run_client(server.url, str(photos), "--out", str(tmp_path / "four"), "--concurrency", "4") == 0
    assert requests_sent(server.url, before_rerun) == {}
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"Colorized 0 of 0 images into {tmp_path / 'four'}; "
        f"skipped {len(FOLDER_IMAGES)} already written (--overwrite replaces them)")
    assert outputs(tmp_path / "four") == written
    assert requests_sent(server.url, before) == {"OK": 2 * len(FOLDER_IMAGES)}


@pytest.mark.slow
def test_an_interrupted_run_rerun_colorizes_only_the_images_whose_outputs_are_missing(server, tmp_path, capsys):
    photos = photo_folder(tmp_path / "photos")
    assert run_client(server.url, str(photos), "--out", str(tmp_path / "whole"), "--concurrency", "2") == 0
    out = tmp_path / "out"
    for name in ("a.png", "sub/deeper/d.png"):  # what the interrupted run had written
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(b"written before the interruption")
    capsys.readouterr()
    before = request_counts(server.url)
    assert run_client(server.url, str(photos), "--out", str(out), "--concurrency", "3") == 0
    assert requests_sent(server.url, before) == {"OK": len(FOLDER_IMAGES) - 2}
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"Colorized 4 of 4 images into {out}; skipped 2 already written (--overwrite replaces them)")
    expected = outputs(tmp_path / "whole") | {name: b"written before the interruption" for name in ("a.png", "sub/deeper/d.png")}
    assert outputs(out) == expected


@pytest.mark.slow
def test_a_busy_server_is_retried_after_its_retry_after_until_a_slot_frees_and_then_given_up_on(
        registry, tmp_path, capsys):
    photo = save_image(tmp_path / "photo.jpg", photo_crops(1)[0])
    with running(registry, max_concurrent_requests=1, max_queue=0, request_timeout_s=10.0) as busy:
        url = f"http://127.0.0.1:{server_port(busy)}"
        with busy.state.admission.slot():  # the only model slot is taken for the whole run
            assert run_client(url, str(photo), "--out", str(tmp_path / "refused"), "--retries", "1") == 1
        err = capsys.readouterr().err
        assert "HTTP 503: " in err and "overloaded" in err and "(after 1 retry)" in err
        assert not (tmp_path / "refused" / "photo.png").exists()

        held, refused = threading.Event(), threading.Event()

        def hold_until_refused():  # the slot is freed once this run has been refused (the two above, then its first)
            with busy.state.admission.slot():
                held.set()
                deadline = time.monotonic() + ANSWER_TIMEOUT
                while time.monotonic() < deadline and not refused.is_set():
                    if request_counts(url).get("UNAVAILABLE", 0) >= 3:
                        refused.set()
                    time.sleep(0.05)

        holder = threading.Thread(target=hold_until_refused, daemon=True)
        holder.start()
        assert held.wait(ANSWER_TIMEOUT)
        assert run_client(url, str(photo), "--out", str(tmp_path / "retried"), "--retries", "5") == 0
        holder.join(timeout=ANSWER_TIMEOUT)
        assert refused.is_set()
        out = capsys.readouterr().out.splitlines()
        assert out[0].startswith(f"{photo} -> ") and out[0].endswith((" after 1 retry", " retries"))
        assert out[-1] == f"Colorized 1 of 1 images into {tmp_path / 'retried'}"
        assert (tmp_path / "retried" / "photo.png").exists()


@pytest.mark.slow
def test_an_image_the_server_refuses_with_400_is_not_retried_and_fails_the_run(server, tmp_path, capsys):
    photos = tmp_path / "photos"
    save_image(photos / "good.jpg", photo_crops(1)[0])
    (photos / "bad.jpg").write_bytes(b"not an image")
    before = request_counts(server.url)
    assert run_client(server.url, str(photos), "--out", str(tmp_path / "out"), "--concurrency", "2") == 1
    assert requests_sent(server.url, before) == {"OK": 1, "INVALID_ARGUMENT": 1}
    captured = capsys.readouterr()
    assert "bad.jpg: error: " in captured.err and "HTTP 400: " in captured.err and "retries" not in captured.err
    assert captured.out.splitlines()[-1] == f"Colorized 1 of 2 images into {tmp_path / 'out'}; 1 failed"
    assert sorted(outputs(tmp_path / "out")) == ["good.png"]


class FailedCall:
    """What a failed gRPC call raises, as `client._grpc_error` reads it (a `grpc.RpcError` that is a `grpc.Call`)."""

    def __init__(self, code_name: str, details: str, metadata: tuple = ()):
        import grpc

        self._code, self._details, self._metadata = grpc.StatusCode[code_name], details, metadata

    def code(self):
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple:
        return self._metadata


@pytest.mark.parametrize(("code", "details", "metadata", "busy", "retry_after_s"), [
    ("UNAVAILABLE", "Server overloaded", (("retry-after", "1"),), True, 1.0),
    ("RESOURCE_EXHAUSTED", "Concurrent RPC limit exceeded!", (), True, None),
    ("RESOURCE_EXHAUSTED", "Received message larger than max (5000 vs. 4000)", (), False, None),
    ("UNAVAILABLE", "failed to connect to all addresses", (), False, None),  # no server answered
    ("INVALID_ARGUMENT", "Unknown image file format", (), False, None),
])
def test_grpc_refusals_are_busy_only_where_the_same_call_may_succeed_later(code, details, metadata, busy, retry_after_s):
    error = client._grpc_error(FailedCall(code, details, metadata), "127.0.0.1:8500", 60.0)
    assert (error.busy, error.retry_after_s) == (busy, retry_after_s) and details in str(error)
