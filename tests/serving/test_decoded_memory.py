"""The dev server's memory is bounded by what requests decode, not by what they send (issue 21, item 2):
pixels announced by image headers and the JSON a body can parse into are held in budgets before any
work, over real sockets on 127.0.0.1."""
import contextlib
import io
import struct
import threading
import time

import numpy as np
import pytest
from PIL import Image

from serving import request_cost
from serving.devserver_process import ServerProcess, flat_png
from serving.model_registry import ModelRegistry
from tests.helpers import copy_exported
from tests.serving.test_serving_load import PREDICT, exchange, json_error, post_request, predict_body, running

pytestmark = [pytest.mark.slow, pytest.mark.exclusive]
BYTES_PER_PIXEL_BOUND = 100  # the README states ~72 at the peak (50 Mpx); this leaves room for fixed costs


def released(budget, within_s: float = 5.0) -> bool:
    """Whether `budget` is back to 0 within `within_s`: a request lets go of its reservation just after its
    answer is sent, so a client can read the answer a moment before."""
    deadline = time.monotonic() + within_s
    while budget.held and time.monotonic() < deadline:
        time.sleep(0.01)
    return budget.held == 0


@pytest.fixture(scope="module")
def registry(exported_base, tmp_path_factory):
    return ModelRegistry("tfcolor", copy_exported(exported_base, tmp_path_factory.mktemp("memory")))


def test_many_images_under_the_pixel_limit_in_one_request_are_refused_before_any_is_decoded(registry):
    side = 4000  # 16 Mpx each, under the 50 Mpx per image; four are 64 Mpx, over the 50 Mpx per request
    with running(registry) as dev:
        port = dev.server_address[1]
        started = time.monotonic()
        answer = exchange(port, post_request(PREDICT, predict_body([flat_png(side, side)] * 4)))
        assert answer[0] == 400
        assert json_error(answer) == ("request has 4 images of 64000000 pixels in all, over the limit of 50000000 "
                                      "pixels per request")
        assert time.monotonic() - started < 5  # the headers were read, nothing decoded
        assert released(dev.state.pixel_budget)


def test_a_gif_whose_frame_is_larger_than_its_screen_is_refused_by_the_frame(registry):
    picture = Image.new("P", (8000, 7000))
    buffer = io.BytesIO()
    picture.save(buffer, "GIF")
    forged = bytearray(buffer.getvalue())
    forged[6:10] = struct.pack("<HH", 16, 16)  # the logical screen claims 16x16
    with running(registry) as dev:
        answer = exchange(dev.server_address[1], post_request(PREDICT, predict_body([bytes(forged)])))
    assert answer[0] == 400
    assert json_error(answer) == "image is 7000x8000 = 56000000 pixels, over the limit of 50000000 pixels"


def test_a_request_waits_for_decoded_pixels_then_runs_or_gets_503(registry):
    body = predict_body([flat_png(64, 48)])
    with running(registry, max_decoded_pixels=10_000, request_timeout_s=1.0) as dev:
        port = dev.server_address[1]
        budget = dev.state.pixel_budget
        with budget.reserve(9_000):  # other requests hold most of the pixels for longer than the queue's wait
            answer = exchange(port, post_request(PREDICT, body))
        assert answer[0] == 503 and answer[1]["Retry-After"] == "1"
        assert "9000 decoded pixels held by requests in progress, 3072 more would pass its limit of 10000" in \
            json_error(answer)
        with contextlib.ExitStack() as held:
            held.enter_context(budget.reserve(9_000))
            threading.Timer(0.4, held.close).start()
            started = time.monotonic()
            answer = exchange(port, post_request(PREDICT, body))  # queued until the pixels are released
        assert answer[0] == 200 and time.monotonic() - started >= 0.3
        too_large = exchange(port, post_request(PREDICT, predict_body([flat_png(101, 100)])))
        assert too_large[0] == 400
        assert json_error(too_large) == ("Request needs 10100 decoded pixels, over this server's limit of 10000 "
                                         "(--max_decoded_pixels)")
        assert released(budget)


def test_a_compact_json_array_that_would_inflate_is_refused_before_it_is_parsed(registry):
    body = b'{"instances": [' + b"[]," * 300_000 + b"[]]}"  # 900 KB, about 20 MB as Python lists
    with running(registry, max_request_bytes=1 << 20, max_buffered_bytes=8 << 20) as dev:
        answer = exchange(dev.server_address[1], post_request(PREDICT, body))
        assert answer[0] == 400
        assert json_error(answer).startswith("Request JSON has up to 600005 values; with its body that can take")
        assert "over this server's --max_buffered_bytes of 8388608" in json_error(answer)
        assert released(dev.state.body_budget)


@pytest.mark.parametrize("body", [
    b"[" + b"[]," * 99_999 + b"[]]", b"[" + b'{"a":1},' * 99_999 + b'{"a":1}]', b"[" + b"0.5," * 99_999 + b"0.5]",
    b"[" + b"[0]," * 99_999 + b"[0]]", b'[' + b'{"a":{}},' * 99_999 + b'{"a":{}}]', b"[" + b'"ab",' * 99_999 + b'"ab"]',
], ids=["lists", "objects", "floats", "nested", "nested-objects", "strings"])
def test_the_json_estimate_bounds_what_parsing_takes(body):
    import json
    import tracemalloc

    tracemalloc.start()
    parsed = json.loads(body)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert parsed and peak <= request_cost.json_parse_bytes(body)


def test_concurrent_large_requests_are_served_one_budget_at_a_time_within_its_memory(exported_base, tmp_path):
    """Four requests of 4 Mpx each against a budget of 5 Mpx: all answered, one decoded at a time, and the
    server's peak memory grows by less than the budget's pixels at BYTES_PER_PIXEL_BOUND (four at once: ~4x)."""
    side, budget = 2000, 5_000_000
    server = ServerProcess(copy_exported(exported_base, tmp_path), tmp_path / "devserver.log",
                           ("--max_decoded_pixels", str(budget)))
    try:
        request = post_request(PREDICT, predict_body([flat_png(side, side)]))
        assert exchange(server.port, post_request(PREDICT, predict_body([flat_png(64, 64)])))[0] == 200
        if not server.reset_peak():
            pytest.skip("this kernel does not let us reset the server's peak memory (VmHWM)")
        before_kb = server.status("VmRSS")
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(exchange(server.port, request))) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        extra = (server.status("VmHWM") - before_kb) * 1024
        assert [answer[0] for answer in answers] == [200] * 4
        assert extra < budget * BYTES_PER_PIXEL_BOUND, f"peak grew by {extra / 2**20:.0f} MiB"
        assert exchange(server.port, post_request(PREDICT, predict_body([flat_png(64, 64)])))[0] == 200
    finally:
        server.stop()
    assert np.isfinite(extra)
