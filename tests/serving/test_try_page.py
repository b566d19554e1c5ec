"""The dev server's page at `/`, in a real headless Chromium against the server in its own process: real
photos in, colorized PNGs of their size out through the `:predict` call any client makes, the server's
refusals shown as its own message, and nothing asked of another origin."""
import base64
import io
import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import color as skcolor
from skimage import data as skdata

from serving import try_page
from serving.devserver_process import ServerProcess
from tests.helpers import SHARED_PHOTOS, save_image

ANSWER_TIMEOUT_MS = 120_000  # far above a few predictions of the tiny model, only there so a hung page fails
HTTP_TIMEOUT = 60  # seconds, likewise
# Each result card as the tests read it: its state, the error box's text, its images' natural sizes, the
# download link's file name.
READ_CARDS = """cards => cards.map(card => {
  const size = (testid) => {
    const image = card.querySelector(`[data-testid=${testid}]`);
    return [image.naturalWidth, image.naturalHeight];
  };
  return {file: card.dataset.file, state: card.dataset.state,
          error: card.querySelector("[data-testid=error]").textContent,
          original: size("original"), gray: size("gray"), colorized: size("colorized"),
          download: card.querySelector("[data-testid=download]").download};
})"""
# An <img>'s pixels as the browser decoded them, as a PNG data: URL (a canvas reads blob: images of its origin).
IMAGE_PIXELS = """image => {
  const canvas = document.createElement("canvas");
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  canvas.getContext("2d").drawImage(image, 0, 0);
  return canvas.toDataURL("image/png");
}"""


@pytest.fixture(scope="module")
def origin(exported_base, tmp_path_factory):
    """The dev server started as users start it, serving the shared export (which it only reads)."""
    folder = tmp_path_factory.mktemp("try_page")
    process = ServerProcess(exported_base, folder / "devserver.log")
    yield f"http://127.0.0.1:{process.port}"
    process.stop()


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    """Real photos: the first shared JPEG (where the shared photos are present) and scikit-image's coffee as
    a PNG, cut to an odd, non-square size so that swapped or rounded sizes show."""
    coffee = save_image(tmp_path_factory.mktemp("photos") / "coffee.png", skdata.coffee()[:301, :457])
    return sorted(SHARED_PHOTOS.glob("*.jpg"))[:1] + [coffee]


def predict(origin: str, image_bytes: bytes) -> tuple[int, dict]:
    """The status and JSON answer of the `:predict` request a client sends for one encoded image."""
    body = {"signature_name": "serving_default", "instances": [{"b64": base64.b64encode(image_bytes).decode()}]}
    request = urllib.request.Request(f"{origin}/v1/models/tfcolor:predict", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def open_page(browser, origin: str):
    """The page at `/` once it has read the model's status and metadata; the URLs it requests, as it goes."""
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{origin}/")
    # Waits by selector, not `wait_for_function`: Playwright evaluates a predicate string, which the
    # page's Content-Security-Policy (no 'unsafe-eval') refuses, as it should.
    page.wait_for_selector("#render-size:not(:empty), #page-error:not([hidden])", state="attached")
    assert page.is_hidden("[data-testid=page-error]"), page.text_content("[data-testid=page-error]")
    return page, requested


def upload(page, paths: list[Path]) -> dict[str, dict]:
    """Pick `paths` in the file input, wait until every photo is answered; the cards by file name."""
    page.set_input_files("[data-testid=file-input]", [str(path) for path in paths])
    answered = page.locator("[data-testid=result]:not([data-state=pending])")
    answered.nth(len(paths) - 1).wait_for(state="attached", timeout=ANSWER_TIMEOUT_MS)
    assert answered.count() == page.locator("[data-testid=result]").count() == len(paths)
    return {card["file"]: card for card in page.eval_on_selector_all("[data-testid=result]", READ_CARDS)}


def decoded(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def assert_same_origin(requested: list[str], origin: str) -> None:
    elsewhere = [url for url in requested if not url.startswith((f"{origin}/", "data:", "blob:"))]
    assert elsewhere == [], "the page asked another origin"


def test_a_model_name_cannot_break_out_of_the_embedded_configuration():
    name = "</script><script>alert(1)</script><!-- & -->"
    html = try_page.render(name)
    embedded = re.search(r'<script id="config" type="application/json">(.*?)</script>', html, re.S)[1]
    assert json.loads(embedded) == {"models": [name]}


@pytest.mark.slow
def test_photos_come_back_colorized_at_their_size_through_the_predict_call(origin, browser, photos):
    page, requested = open_page(browser, origin)
    assert page.eval_on_selector_all("[data-testid=model] option", "options => options.map(o => o.value)") == ["tfcolor"]
    assert page.text_content("[data-testid=model-status]") == "version 1, available"
    assert "fixed when the model was exported" in page.text_content("[data-testid=render-size]")
    cards = upload(page, photos)

    for photo in photos:
        card = cards[photo.name]
        assert card["state"] == "done", card["error"]
        size = list(Image.open(photo).size)  # (width, height) as stored
        assert card["colorized"] == card["original"] == card["gray"] == size
        assert card["download"] == f"{photo.stem}-colorized.png"

    photo = photos[0]
    with page.expect_download() as download_info:
        page.click(f'[data-testid=result][data-file="{photo.name}"] [data-testid=download]')
    download = download_info.value
    assert download.suggested_filename == f"{photo.stem}-colorized.png"
    status, answer = predict(origin, photo.read_bytes())
    assert status == 200
    served = decoded(base64.b64decode(answer["predictions"][0]["colorized_bytes"]["b64"]))
    downloaded = decoded(Path(download.path()).read_bytes())
    assert downloaded.shape == served.shape
    assert np.abs(downloaded.astype(int) - served.astype(int)).max() <= 1  # one model, called twice

    # The grayscale is the photo's L* alone: scikit-image's Lab with a* = b* = 0, back in sRGB. From the
    # PNG, which both decode losslessly; 1 level covers the page's and this rounding.
    png = photos[-1]
    data_url = page.locator(f'[data-testid=result][data-file="{png.name}"] [data-testid=gray]').evaluate(IMAGE_PIXELS)
    gray = decoded(base64.b64decode(data_url.split(",", 1)[1]))
    lab = skcolor.rgb2lab(np.asarray(Image.open(png).convert("RGB")))
    lab[..., 1:] = 0
    expected = np.round(skcolor.lab2rgb(lab) * 255)
    assert np.abs(gray.astype(int) - expected).max() <= 1

    position = page.evaluate("""() => {
      const card = document.querySelector("[data-testid=result]");
      const slider = card.querySelector("[data-testid=slider]");
      slider.value = 20;
      slider.dispatchEvent(new Event("input"));
      return card.querySelector("[data-testid=compare]").style.getPropertyValue("--position");
    }""")
    assert position == "20%"
    assert_same_origin(requested, origin)
    assert any(url == f"{origin}/v1/models/tfcolor:predict" for url in requested)
    page.close()


@pytest.mark.slow
def test_a_file_the_server_refuses_shows_the_servers_own_message(origin, browser, tmp_path):
    fake = tmp_path / "notes.png"
    fake.write_bytes(b"These are notes, not a photo.\n")
    status, answer = predict(origin, fake.read_bytes())
    assert status == 400 and answer["error"]
    page, requested = open_page(browser, origin)
    card = upload(page, [fake])[fake.name]
    assert card["state"] == "error"
    assert card["error"] == answer["error"]
    assert page.is_visible(f'[data-testid=result][data-file="{fake.name}"] [data-testid=error]')
    assert page.is_hidden(f'[data-testid=result][data-file="{fake.name}"] [data-testid=download]')
    assert_same_origin(requested, origin)
    page.close()


def policy(header: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header -> {directive: its sources}."""
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/", "/index.html", "/?from=bookmark"])
def test_the_page_comes_with_a_strict_policy_and_names_no_other_origin(origin, path):
    with urllib.request.urlopen(f"{origin}{path}", timeout=HTTP_TIMEOUT) as response:
        status, headers, html = response.status, response.headers, response.read().decode("utf-8")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff"
    rules = policy(headers["Content-Security-Policy"])
    assert rules["default-src"] == ["'self'"]
    assert rules["img-src"] == ["'self'", "data:", "blob:"]
    assert rules["style-src"] == ["'unsafe-inline'"] and rules["script-src"] == ["'unsafe-inline'"]
    assert "connect-src" not in rules  # requests fall back to default-src: this origin alone
    assert re.findall(r"https?://", html) == []
    assert json.dumps({"models": ["tfcolor"]}) in html


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/index.htm", "/try", "/v1/models"])
def test_other_paths_are_still_404_with_a_json_error(origin, path):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{origin}{path}", timeout=HTTP_TIMEOUT)
    assert refused.value.code == 404
    assert refused.value.headers["Content-Type"] == "application/json"
    assert json.load(refused.value)["error"].startswith("Malformed request")


# A real drop: a DataTransfer holding the photo's bytes as a File, dispatched on the drop zone as the browser
# dispatches a drag from the desktop (dragenter, dragover, drop).
DROP_FILE = """async ([name, b64]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, {type: "image/jpeg"}));
  const zone = document.querySelector("[data-testid=dropzone]");
  for (const type of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
  }
}"""


@pytest.mark.slow
def test_a_dropped_photo_comes_back_colorized_at_its_size(origin, browser, photos):
    page, requested = open_page(browser, origin)
    photo = photos[0]
    page.evaluate(DROP_FILE, [photo.name, base64.b64encode(photo.read_bytes()).decode()])
    answered = page.locator("[data-testid=result]:not([data-state=pending])")
    answered.first.wait_for(state="attached", timeout=ANSWER_TIMEOUT_MS)
    card = page.eval_on_selector_all("[data-testid=result]", READ_CARDS)[0]
    assert card["state"] == "done", card["error"]
    assert card["file"] == photo.name and card["colorized"] == list(Image.open(photo).size)
    assert_same_origin(requested, origin)
