"""The dev server loads no tfcolor model, data or training code and no scikit-image (issue 19: each layer
imports only below it). Each check runs in a fresh interpreter: this test process has imported everything."""
import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT, photo_crops, save_image

PYTHON_TIMEOUT = 300  # seconds: far above an import and one prediction, only there so a hang fails
# Runs the dev server's main() in a thread on a free port of 127.0.0.1, sends one :predict request over
# HTTP, and prints the answer's status and predictions and the process's sys.modules, as one JSON line.
SERVE_AND_PREDICT = """
import base64, json, socket, sys, threading, time, urllib.request
from serving import devserver

base_path, image_path = sys.argv[1:]
with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
flags = ["--model_name", "tfcolor", "--model_base_path", base_path, "--rest_api_port", str(port)]
threading.Thread(target=devserver.main, args=(flags,), daemon=True).start()
url = f"http://127.0.0.1:{port}/v1/models/tfcolor"
deadline = time.monotonic() + 120
while True:
    try:
        urllib.request.urlopen(url, timeout=5).read()
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
body = json.dumps({"instances": [{"b64": base64.b64encode(open(image_path, "rb").read()).decode()}]}).encode()
request = urllib.request.Request(url + ":predict", body, {"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=60) as answer:
    print(json.dumps({"status": answer.status, "predictions": json.load(answer)["predictions"],
                      "modules": sorted(sys.modules)}))
"""


def run_python(code: str, *args: str) -> object:
    """The JSON that `python -c code args` prints last, run from the repository root."""
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                            timeout=PYTHON_TIMEOUT)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def forbidden(modules: list[str]) -> list[str]:
    """Loaded modules a server must not need: scikit-image, tfcolor beyond its TensorFlow-free config
    package (an allowlist, so it holds whatever subpackages tfcolor grows), the exporting code."""
    def allowed_tfcolor(name: str) -> bool:
        return name in ("tfcolor", "tfcolor.config") or name.startswith("tfcolor.config.")

    return [name for name in modules
            if name == "skimage" or name.startswith("skimage.") or name == "export.exporting"
            or (name.startswith("tfcolor.") and not allowed_tfcolor(name))]


def test_importing_the_dev_server_loads_no_model_code():
    modules = run_python("import json, sys, serving.devserver; print(json.dumps(sorted(sys.modules)))")
    assert {"serving.handler", "export.limits", "tfcolor.config"} <= set(modules)  # the check sees the server's imports
    assert forbidden(modules) == []


@pytest.mark.slow
def test_serving_a_prediction_loads_no_model_code(exported_base, tmp_path):
    image = save_image(tmp_path / "photo.png", photo_crops(1)[0])
    answer = run_python(SERVE_AND_PREDICT, str(exported_base), str(image))
    assert answer["status"] == 200
    assert [sorted(prediction) for prediction in answer["predictions"]] == [["colorized_bytes", "image_size"]]
    assert {"serving.handler", "export.limits", "export.warmup"} <= set(answer["modules"])
    assert forbidden(answer["modules"]) == []
