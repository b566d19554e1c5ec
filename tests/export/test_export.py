"""`python -m export`: signatures, loading without tfcolor/keras, agreement with the Keras model, versions."""
import base64
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from export import __main__ as export_cli
from export import versions
from export.limits import DEFAULT_MAX_BATCH, LIMITS_FILE, Limits
from tests.helpers import copy_exported, keras_colorized, photo_crops, save_image
from tfcolor.data import images
from tfcolor.models import restoring

pytestmark = pytest.mark.slow
VENV_BIN = Path(sys.executable).parent


@pytest.fixture
def exported(exported_base):
    return exported_base


def test_layout_and_signatures_listed_by_saved_model_cli(exported):
    assert versions.existing_versions(exported) == [1]
    assert (exported / "1" / "saved_model.pb").is_file() and not list(exported.glob(".tmp-*"))
    shown = subprocess.run([str(VENV_BIN / "saved_model_cli"), "show", "--all", "--dir", str(exported / "1")],
                           capture_output=True, text=True, check=True).stdout
    for expected in ("signature_def['serving_default']", "inputs['image_bytes']", "outputs['colorized_bytes']",
                     "outputs['image_size']", "signature_def['colorize_rgb']", "inputs['images']",
                     "signature_def['colorize_lab']", "inputs['l_scaled']", "outputs['ab_scaled']"):
        assert expected in shown
    assert "shape: (-1, -1, -1, 1)" in shown and "dtype: DT_UINT8" in shown


# keras, tfcolor and export are made unimportable (an import raises ImportError), which proves the
# SavedModel needs none of them; plain `import tensorflow` would otherwise pull keras in by itself.
LOAD_WITHOUT_TFCOLOR = """
import base64, json, sys
for blocked in ("keras", "tf_keras", "tfcolor", "export"):
    sys.modules[blocked] = None
import tensorflow as tf
model = tf.saved_model.load(sys.argv[1])
images = [open(path, "rb").read() for path in sys.argv[2:]]
out = model.signatures["serving_default"](image_bytes=tf.constant(images))
print(json.dumps({
    "png": [base64.b64encode(p).decode() for p in out["colorized_bytes"].numpy()],
    "size": out["image_size"].numpy().tolist(),
    "loaded_modules": sorted(m for m in ("tfcolor", "keras", "export") if sys.modules.get(m) is not None),
}))
"""


def test_serving_default_loads_without_tfcolor_and_matches_keras(exported, trained_run, tmp_path):
    photo = photo_crops(1, size=160)[0][:133, :157]
    jpeg = save_image(tmp_path / "odd.jpg", photo, quality=95)
    gray = save_image(tmp_path / "gray.png", photo.mean(axis=-1).astype(np.uint8))
    result = subprocess.run([sys.executable, "-c", LOAD_WITHOUT_TFCOLOR, str(exported / "1"), str(jpeg), str(gray)],
                            capture_output=True, text=True, check=True, cwd=tmp_path)
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["loaded_modules"] == []
    assert answer["size"] == [[133, 157], [133, 157]]
    for png, source in zip(answer["png"], (jpeg, gray)):
        served = tf.io.decode_png(base64.b64decode(png)).numpy()
        expected = keras_colorized(trained_run, source.read_bytes())
        assert served.shape == (133, 157, 3)
        assert np.abs(served.astype(int) - expected.astype(int)).max() <= 1


def test_rgb_and_lab_signatures(exported, trained_run):
    loaded = tf.saved_model.load(str(exported / "1"))
    rgb = photo_crops(2, size=40)
    colorized = loaded.signatures["colorize_rgb"](images=tf.constant(rgb))["colorized_rgb"].numpy()
    assert colorized.shape == (2, 40, 40, 3) and colorized.dtype == np.uint8
    expected = keras_colorized(trained_run, rgb[0])
    assert np.abs(colorized[0].astype(int) - expected.astype(int)).max() <= 1
    # A photo's colours do not depend on the other photos in its batch (no batch statistics, no dropout).
    companion = np.ascontiguousarray(255 - rgb[1, ::-1])
    rebatched = loaded.signatures["colorize_rgb"](images=tf.constant(np.stack([rgb[0], companion])))["colorized_rgb"]
    np.testing.assert_array_equal(rebatched.numpy()[0], colorized[0])
    gray = loaded.signatures["colorize_rgb"](images=tf.constant(rgb[..., :1]))["colorized_rgb"]
    assert gray.shape == (2, 40, 40, 3)
    _, model = restoring.load_colorizer(trained_run)
    l_scaled = tf.random.uniform((1, 32, 48, 1), -1, 1)
    ab = loaded.signatures["colorize_lab"](l_scaled=l_scaled)["ab_scaled"].numpy()
    np.testing.assert_allclose(ab, model.predict_color(l_scaled).numpy(), atol=1e-4)


def test_versions_are_numbered_never_overwritten_and_leave_no_temporaries(exported_base, trained_run, tmp_path, capsys):
    base = copy_exported(exported_base, tmp_path / "models")  # holds version 1, exported with the default number
    (base / ".tmp-export-1-stale").mkdir()
    assert export_cli.main(["--checkpoints-path", str(trained_run / "checkpoints" / "ckpt-3"), "--output", str(base),
                            "--version", "7"]) == 0
    assert versions.existing_versions(base) == [1, 7] and versions.next_version(base) == 8
    assert not list(base.glob(".tmp-*"))
    capsys.readouterr()
    assert export_cli.main(["--run", str(trained_run), "--output", str(base), "--version", "7"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert versions.existing_versions(base) == [1, 7]


def test_interrupted_write_leaves_nothing_visible(tmp_path):
    def interrupted(folder: Path):
        (folder / "saved_model.pb").write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        versions.write_version(tmp_path, 1, interrupted)
    assert list(tmp_path.iterdir()) == []


def test_bad_run_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        export_cli.main(["--run", str(tmp_path / "nothing"), "--output", str(tmp_path / "m")])
    assert exit_info.value.code == 2
    assert "config.json is missing" in capsys.readouterr().err


def test_export_ships_tf_serving_warmup_requests_that_run(exported):
    from export import warmup

    (log,) = warmup.read_warmup(exported / "1")
    request = log.predict_log.request
    assert request.model_spec.name == "tfcolor" and request.model_spec.signature_name == "serving_default"
    loaded = tf.saved_model.load(str(exported / "1"))
    outputs = loaded.signatures["serving_default"](image_bytes=tf.make_ndarray(request.inputs["image_bytes"]))
    assert outputs["image_size"].numpy().tolist() == [[32, 32]]
    assert tf.io.decode_png(outputs["colorized_bytes"][0]).shape == (32, 32, 3)


def test_limits_are_baked_into_every_signature(trained_run, tmp_path, capsys):
    base = tmp_path / "tfcolor"
    assert export_cli.main(["--run", str(trained_run), "--output", str(base), "--max-batch", "3", "--max-pixels", "2048",
                            "--max-request-pixels", "4096"]) == 0
    assert "at most 3 images and 4096 pixels per request, 2048 pixels per image" in capsys.readouterr().out
    assert json.loads((base / "1" / LIMITS_FILE).read_text()) == {"max_pixels": 2048, "max_batch": 3,
                                                                  "max_request_pixels": 4096, "max_render_size": 512}
    loaded = tf.saved_model.load(str(base / "1"))  # TensorFlow alone, as TF-Serving loads it
    over_batch = "request has 4 images, over the limit of 3 per request"
    over_total = "request has 3 images of 4800 pixels in all, over the limit of 4096 pixels per request"
    calls = {
        "serving_default": lambda n, side: {
            "image_bytes": tf.constant([tf.io.encode_png(photo_crops(1, size=side)[0]).numpy()] * n)},
        "colorize_rgb": lambda n, side: {"images": tf.zeros([n, side, side, 3], tf.uint8)},
        "colorize_lab": lambda n, side: {"l_scaled": tf.zeros([n, side, side, 1])},
    }
    for name, inputs in calls.items():
        signature = loaded.signatures[name]
        assert next(iter(signature(**inputs(2, 32)).values())).shape[0] == 2
        with pytest.raises(tf.errors.InvalidArgumentError, match=over_batch):
            signature(**inputs(4, 32))
        with pytest.raises(tf.errors.InvalidArgumentError, match=over_total):
            signature(**inputs(3, 40))  # each image within the limit, the three over it in all
        too_large = "image is 64x64 = 4096 pixels" if name == "serving_default" else "images are 64x64 = 4096 pixels"
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"{too_large}, over the limit of 2048 pixels"):
            signature(**inputs(1, 64))
    sizes = loaded.signatures["image_sizes"](**calls["serving_default"](3, 40))["image_size"]
    assert sizes.numpy().tolist() == [[40, 40]] * 3  # read from the headers, whatever the limits


def test_request_pixels_below_one_largest_image_are_a_usage_error(trained_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        export_cli.main(["--run", str(trained_run), "--output", str(tmp_path / "m"), "--max-request-pixels", "100"])
    assert exit_info.value.code == 2
    assert "--max-request-pixels (100) must be at least --max-pixels (50000000)" in capsys.readouterr().err


def test_limits_below_the_models_own_size_are_a_usage_error(trained_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        export_cli.main(["--run", str(trained_run), "--output", str(tmp_path / "m"), "--max-pixels", "100"])
    assert exit_info.value.code == 2
    assert "--max-pixels 100 is below the model's own 32x32 = 1024 pixels" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_default_export_refuses_a_decompression_bomb_from_its_header(exported):
    """A PNG header claiming 20000x20000 (4.8 GB once decoded to float RGB): refused before decoding."""
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + header + struct.pack(">I", zlib.crc32(b"IHDR" + header))
    loaded = tf.saved_model.load(str(exported / "1"))
    assert json.loads((exported / "1" / LIMITS_FILE).read_text()) == {
        "max_pixels": images.DEFAULT_MAX_PIXELS, "max_batch": DEFAULT_MAX_BATCH,
        "max_request_pixels": images.DEFAULT_MAX_PIXELS, "max_render_size": 512}
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="image is 20000x20000 = 400000000 pixels, over the limit of 50000000"):
        loaded.signatures["serving_default"](image_bytes=tf.constant([bomb]))


def test_limits_of_an_export_older_than_the_request_total_read_as_what_its_graph_enforces(tmp_path):
    (tmp_path / LIMITS_FILE).parent.mkdir()
    (tmp_path / LIMITS_FILE).write_text(json.dumps({"max_pixels": 1000, "max_batch": 4}))
    assert Limits.read(tmp_path) == Limits(max_pixels=1000, max_batch=4, max_request_pixels=4000)


def test_the_render_size_signature_colorizes_each_photo_at_its_own_square_within_the_exports_range(exported):
    loaded = tf.saved_model.load(str(exported / "1"))
    render = loaded.signatures["colorize_render_size"]
    photo = np.asarray(tf.image.resize(photo_crops(1, size=96)[0], (90, 120)), np.uint8)
    png = tf.io.encode_png(photo).numpy()
    default = loaded.signatures["serving_default"](image_bytes=tf.constant([png]))["colorized_bytes"][0]
    sizes = tf.constant([32, 16, 64], tf.int32)
    out = render(image_bytes=tf.constant([png] * 3), render_size=sizes)
    decoded = [tf.io.decode_png(png_bytes).numpy() for png_bytes in out["colorized_bytes"].numpy()]
    assert out["image_size"].numpy().tolist() == [[90, 120]] * 3 and all(d.shape == (90, 120, 3) for d in decoded)
    # The model's own size gives serving_default's colours (another graph around the same network: a uint8
    # step of rounding at most).
    assert np.abs(decoded[0].astype(int) - tf.io.decode_png(default).numpy()).max() <= 1
    assert not np.array_equal(decoded[1], decoded[2])  # another square, other colours
    assert json.loads((exported / "1" / LIMITS_FILE).read_text())["max_render_size"] == 512
    for bad, message in (([8], "render_size \\[8\\] outside 16..512"), ([600], "outside 16..512"),
                         ([32, 32], "render_size must hold one size per image")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            render(image_bytes=tf.constant([png]), render_size=tf.constant(bad, tf.int32))
