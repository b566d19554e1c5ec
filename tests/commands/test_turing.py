"""The visual Turing test: scoring, sessions, and the page in a real headless Chromium (the server's defences
against a participant who games it: test_turing_server.py)."""
import json
import threading
import time

import pytest

from tfcolor.config import DataConfig
from tfcolor.data import pipelines
from tfcolor.models import restoring
from tfcolor.turing import __main__ as turing_cli
from tfcolor.turing.answers import Answer
from tfcolor.turing.limits import StudyLimits
from tfcolor.turing.pairs import build_pairs
from tfcolor.turing.refusals import AlreadyAnswered, NotShown, Refusal, UnknownToken
from tfcolor.turing.scoring import summarize, wilson_interval
from tfcolor.turing.server import TuringServer
from tfcolor.turing.store import SessionStore


def test_wilson_interval_known_values():
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and high == pytest.approx(0.1611, abs=1e-4)


def test_summary_counts_unanswered_pairs_apart():
    answers = [{"choice": "left", "fooled": True, "response_ms": 900}, {"choice": "right", "fooled": False, "response_ms": 500},
               {"choice": None, "fooled": False, "response_ms": None}]
    summary = summarize(answers)
    assert summary["answered"] == 2 and summary["no_answer"] == 1 and summary["fooling_rate"] == 0.5


@pytest.fixture(scope="module")
def pairs(trained_run):
    _, model = restoring.load_colorizer(trained_run)
    images, _ = pipelines.evaluation_set(DataConfig(dataset="demo"), batch_size=8, limit=3)
    return build_pairs(model, images, 3)


@pytest.mark.slow
def test_store_rejects_bad_answers_and_never_overwrites_sessions(pairs, tmp_path):
    store = SessionStore(tmp_path, pairs, None, "run")
    first, second = store.new_session("127.0.0.1"), store.new_session("127.0.0.1")
    assert first["token"] != second["token"] and len(first["pairs"]) == 3
    recorded = store.record(Answer(first["token"], 0, "left", 1234))
    for answer, refusal, message in [(Answer("nope", 0, "left"), UnknownToken, "unknown session token"),
                                     (Answer(first["token"], 99, "left"), NotShown, "not a pair shown"),
                                     (Answer(first["token"], 0, "left"), AlreadyAnswered, "answered already")]:
        with pytest.raises(refusal, match=message):
            store.record(answer)
    files = sorted((tmp_path / "sessions").glob("*.json"))
    assert len(files) == 2 and recorded.session_id in {path.stem for path in files}
    saved = json.loads((tmp_path / "sessions" / f"{recorded.session_id}.json").read_text())
    assert saved["answers"][0]["response_ms"] == 1234 and "real_sides" not in saved and "token" not in saved
    assert first["token"] not in json.dumps(saved) and issubclass(UnknownToken, Refusal)


@pytest.fixture
def serve(pairs, tmp_path):
    started = []

    def start(delay=None, **limits):
        store = SessionStore(tmp_path / "results", pairs, delay, "run", StudyLimits(**limits))
        server = TuringServer(("127.0.0.1", 0), store)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        started.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/", tmp_path / "results"

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def _session_answers(results):
    (path,) = list((results / "sessions").glob("*.json"))
    return json.loads(path.read_text())["answers"]


def _images_loaded(page):
    return page.evaluate("['left-img', 'right-img'].every(id => document.getElementById(id).naturalWidth > 0)")


@pytest.mark.slow
def test_page_shows_pairs_records_clicks_and_tells_the_participant_no_score(serve, browser):
    url, results = serve()
    page = browser.new_page()
    page.goto(url)
    page.wait_for_function("document.getElementById('progress').textContent === '1 of 3'")
    assert page.is_visible("#left-img") and page.is_visible("#right-img") and _images_loaded(page)
    page.click("#left")
    page.wait_for_function("document.getElementById('progress').textContent === '2 of 3'")
    first = _session_answers(results)[0]
    assert first["choice"] == "left" and first["response_ms"] > 0 and first["fooled"] == (first["real_side"] == "right")
    page.click("#right")
    page.wait_for_function("document.getElementById('progress').textContent === '3 of 3'")
    page.click("#left")
    page.wait_for_selector("#done", state="visible")
    result = page.text_content("#result")
    assert "3 answers are recorded" in result and "fooling" not in result and "%" not in result
    summary = json.loads((results / "summary.json").read_text())
    assert summary["sessions"] == 1 and summary["counted"]["sessions"] == 1 and summary["overall"]["answered"] == 3
    assert len((results / "answers.csv").read_text().strip().splitlines()) == 4
    page.close()


@pytest.mark.slow
def test_delay_hides_the_pair_and_records_no_answer(serve, browser):
    url, results = serve(delay=1)
    page = browser.new_page()
    page.goto(url)
    page.wait_for_function("document.getElementById('progress').textContent === '1 of 3'")
    page.wait_for_selector("#timeout", state="visible", timeout=5000)
    assert not page.is_visible("#left-img") and not page.is_visible("#right-img")
    deadline = time.time() + 5
    while not _session_answers(results) and time.time() < deadline:
        time.sleep(0.1)
    assert _session_answers(results)[0]["choice"] is None
    page.click("#next")
    page.wait_for_function("document.getElementById('progress').textContent === '2 of 3'")
    assert page.is_visible("#left-img")
    page.close()


@pytest.mark.slow
def test_two_people_get_two_sessions(serve, browser):
    url, results = serve()
    pages = [browser.new_page() for _ in range(2)]
    for page in pages:
        page.goto(url)
        page.wait_for_function("document.getElementById('progress').textContent === '1 of 3'")
        page.click("#right")
        page.wait_for_function("document.getElementById('progress').textContent === '2 of 3'")
    assert len(list((results / "sessions").glob("*.json"))) == 2
    summary = json.loads((results / "summary.json").read_text())  # two half sessions: recorded, not counted
    assert summary["not_counted"] == {"incomplete_sessions": 2, "answers": 2} and summary["overall"]["answered"] == 0
    for page in pages:
        page.close()


@pytest.mark.slow
def test_page_says_why_once_the_address_has_used_its_sessions(serve, browser):
    url, _ = serve(sessions_per_client=1)
    pages = [browser.new_page() for _ in range(2)]
    pages[0].goto(url)
    pages[0].wait_for_function("document.getElementById('progress').textContent === '1 of 3'")
    pages[1].goto(url)
    pages[1].wait_for_function("document.getElementById('progress').textContent.startsWith('Error')")
    assert "--max-sessions-per-client" in pages[1].text_content("#progress") and not pages[1].is_visible("#left-img")
    for page in pages:
        page.close()


@pytest.mark.slow
def test_exported_static_page_runs_offline_and_downloads_answers(trained_run, browser, tmp_path):
    assert turing_cli.main(["--run", str(trained_run), "--size", "2", "--export-html", str(tmp_path / "static")]) == 0
    page = browser.new_page()
    page.goto((tmp_path / "static" / "turing_test.html").as_uri())
    page.wait_for_function("document.getElementById('progress').textContent === '1 of 2'")
    assert _images_loaded(page)
    page.click("#left")
    page.wait_for_function("document.getElementById('progress').textContent === '2 of 2'")
    page.click("#right")
    page.wait_for_selector("#download", state="visible")
    with page.expect_download() as download_info:
        page.click("#download")
    saved = json.loads(open(download_info.value.path()).read())
    assert [a["choice"] for a in saved["answers"]] == ["left", "right"]
    assert saved["summary"]["answered"] == 2
    page.close()


@pytest.mark.slow
def test_answers_with_an_unknown_token_over_http_get_403(serve):
    import urllib.error
    import urllib.request

    url, _ = serve()
    body = b'{"token": "nope", "index": 0, "choice": "left"}'
    request = urllib.request.Request(url + "api/answers", data=body, method="POST")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)
    assert error.value.code == 403 and "unknown session token" in json.loads(error.value.read())["error"]


@pytest.mark.slow
def test_cli_refuses_an_output_folder_that_holds_another_study(trained_run, pairs, tmp_path, capsys):
    SessionStore(tmp_path / "results", pairs[:1], None, "another run")
    with pytest.raises(SystemExit) as exit_info:
        turing_cli.main(["--run", str(trained_run), "--size", "2", "--output", str(tmp_path / "results")])
    assert exit_info.value.code == 2 and "must not be pooled" in capsys.readouterr().err


def test_cli_rejects_unknown_runs(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        turing_cli.main(["--run", str(tmp_path / "nope")])
    assert exit_info.value.code == 2 and "not a tfcolor run" in capsys.readouterr().err
