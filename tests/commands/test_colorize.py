"""`python -m tfcolor.colorize` on photos of odd sizes, grayscale inputs and unreadable files."""

import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from serving.devserver_process import flat_png
from tests.helpers import NOT_UTF8_NAME, photo_crops, save_image
from tfcolor import colorize
from tfcolor.data import color, demo
from tfcolor.models import inference, restoring

pytestmark = pytest.mark.slow


@pytest.fixture
def run_dir(trained_run):
    return trained_run


def _lightness(rgb_uint8):
    return color.rgb_to_lab(rgb_uint8).numpy()[..., 0]


def test_colorizes_a_folder_keeping_sizes_names_and_lightness(run_dir, tmp_path, capsys):
    inputs = tmp_path / "in"
    photo = photo_crops(1, size=96)[0][:61, :45]
    save_image(inputs / "odd.jpg", photo, quality=98)
    gray = photo.mean(axis=-1).astype(np.uint8)
    save_image(inputs / "nested" / "gray.png", gray)
    (inputs / "broken.png").write_bytes(b"\x89PNG not really")
    assert colorize.main(["--checkpoints-path", str(run_dir), "--test-input", str(inputs),
                          "--test-output", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "Colorized 2 of 3 images" in captured.out and "1 skipped" in captured.out
    assert "broken.png" in captured.err

    odd = tf.io.decode_png((tmp_path / "out" / "odd.png").read_bytes()).numpy()
    assert odd.shape == (61, 45, 3)
    source = tf.io.decode_jpeg((inputs / "odd.jpg").read_bytes()).numpy()
    assert np.abs(_lightness(odd) - _lightness(source)).mean() < 1.5
    colorized_gray = tf.io.decode_png((tmp_path / "out" / "nested" / "gray.png").read_bytes()).numpy()
    assert colorized_gray.shape == (61, 45, 3)
    assert np.abs(_lightness(colorized_gray) - _lightness(np.repeat(gray[..., None], 3, -1))).mean() < 1.5


def test_guided_upsampling_writes_the_pixels_of_the_function_the_export_calls(run_dir, tmp_path):
    photo = photo_crops(1, size=160)[0][:97, :143]  # 3 to 4.5 times the model's 32 px
    save_image(tmp_path / "in" / "photo.png", photo)
    written = {}
    for method in ("guided", "bilinear"):
        assert colorize.main(["--run", str(run_dir), "--test-input", str(tmp_path / "in"),
                              "--test-output", str(tmp_path / method), "--upsample", method]) == 0
        written[method] = tf.io.decode_png((tmp_path / method / "photo.png").read_bytes()).numpy()
    _, model = restoring.load_colorizer(run_dir)

    # As the exported signatures call it: uint8 photos of unknown size, in a graph, one at a time.
    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
    def exported_way(images):
        return tf.map_fn(lambda rgb: tf.image.convert_image_dtype(
            inference.colorize_rgb(model, rgb, 32, upsample="guided"), tf.uint8, saturate=True),
            images, fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))

    np.testing.assert_array_equal(written["guided"], exported_way(photo[np.newaxis]).numpy()[0])
    eager = inference.colorize_rgb(model, photo, 32, upsample="guided")
    np.testing.assert_array_equal(written["guided"], tf.image.convert_image_dtype(eager, tf.uint8, saturate=True).numpy())
    assert np.any(written["guided"] != written["bilinear"])


def test_single_file_and_clashing_names(run_dir, tmp_path):
    photos = tmp_path / "photos"
    save_image(photos / "photo.jpg", photo_crops(1, size=40)[0])
    save_image(photos / "photo.png", photo_crops(1, size=40, seed=3)[0])
    assert colorize.main(["--checkpoints-path", str(run_dir), "--test-input", str(photos / "photo.jpg"),
                          "--test-output", str(tmp_path / "one")]) == 0
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["photo.png"]
    assert colorize.main(["--checkpoints-path", str(run_dir), "--test-input", str(photos),
                          "--test-output", str(tmp_path / "both")]) == 0
    assert sorted(p.name for p in (tmp_path / "both").iterdir()) == ["photo_jpg.png", "photo_png.png"]


def test_held_back_demo_photos_are_written_and_colorized(run_dir, tmp_path):
    written = demo.write_held_back(tmp_path / "held")
    assert len(written) == len(demo.PHOTOS)
    assert colorize.main(["--checkpoints-path", str(run_dir), "--test-input", str(tmp_path / "held"),
                          "--test-output", str(tmp_path / "out")]) == 0
    for path in written:
        source = tf.io.decode_png(path.read_bytes())
        assert tf.io.decode_png((tmp_path / "out" / path.name).read_bytes()).shape == source.shape


def test_bad_arguments_exit_with_usage_errors(run_dir, tmp_path, capsys):
    for argv, message in [
        (["--checkpoints-path", str(tmp_path), "--test-input", str(tmp_path), "--test-output", str(tmp_path / "o")],
         "holds no images"),
        (["--checkpoints-path", str(tmp_path / "none"), "--test-input", str(run_dir / "config.json"),
          "--test-output", str(tmp_path / "o")], "config.json is missing"),
        (["--checkpoints-path", str(run_dir), "--test-input", str(tmp_path / "nothing"),
          "--test-output", str(tmp_path / "o")], "does not exist"),
        (["--checkpoints-path", str(run_dir), "--test-input", str(tmp_path), "--test-output", str(tmp_path / "o"),
          "--upsample", "bicubic"], "argument --upsample: invalid choice: 'bicubic'"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            colorize.main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def mixed_folder(root: Path) -> dict[str, str]:
    """Good photos beside every kind of bad file; returns {bad file's printable name: expected reason}."""
    crops = photo_crops(3, size=40)
    save_image(root / "good.jpg", crops[0], quality=95)
    save_image(root / "sub" / "good.png", crops[1])
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    (root / "gone.jpg").symlink_to(root / "deleted-long-ago.jpg")
    os.close(os.open(os.fsencode(root) + b"/" + NOT_UTF8_NAME, os.O_WRONLY | os.O_CREAT))
    (root / "bomb.png").write_bytes(flat_png(9000, 9000))
    expected = {
        "broken.jpg": "not a readable image",
        "gone.jpg": "unreadable (No such file or directory)",
        "caf\\xe9.jpg": "its name is not valid UTF-8",
        "bomb.png": "image is 9000x9000 = 81000000 pixels, over the limit of 50000000 pixels",
    }
    if os.geteuid() != 0:  # root reads any file whatever its mode
        save_image(root / "locked.jpg", crops[2], quality=95).chmod(0)
        expected["locked.jpg"] = "unreadable (Permission denied)"
    return expected


def test_colorize_processes_the_good_photos_of_a_mixed_folder_and_reports_each_bad_one(trained_run, tmp_path, capsys):
    expected = mixed_folder(tmp_path / "in")
    out = tmp_path / "out"
    code = colorize.main(["--run", str(trained_run), "--test-input", str(tmp_path / "in"), "--test-output", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["good.png", "sub/good.png"]
    skipped_lines = [line for line in captured.err.splitlines() if line.startswith("skipped ")]
    assert len(skipped_lines) == len(expected)
    for name, reason in expected.items():
        assert any(name in line and reason in line for line in skipped_lines), (name, captured.err)
    assert f"Colorized 2 of {2 + len(expected)} images" in captured.out

    strict = colorize.main(["--run", str(trained_run), "--test-input", str(tmp_path / "in"),
                            "--test-output", str(tmp_path / "strict"), "--strict"])
    assert strict == 1


def test_colorize_writes_the_pixels_the_exported_model_serves_at_any_render_size(run_dir, exported_base, tmp_path):
    photo = photo_crops(1, size=160)[0][:97, :143]
    png = save_image(tmp_path / "in" / "photo.png", photo).read_bytes()
    loaded = tf.saved_model.load(str(exported_base / "1"))  # run_dir exported with python -m export
    for flag, served in ((None, loaded.signatures["serving_default"](image_bytes=tf.constant([png]))),
                         ("48", loaded.signatures["colorize_render_size"](
                             image_bytes=tf.constant([png]), render_size=tf.constant([48])))):
        out = tmp_path / f"out-{flag}"
        assert colorize.main(["--run", str(run_dir), "--test-input", str(tmp_path / "in"), "--test-output", str(out),
                              *(["--render-size", flag] if flag else [])]) == 0
        written = tf.io.decode_png((out / "photo.png").read_bytes()).numpy().astype(int)
        # One function, traced in process and saved in the export: Grappler may fuse the two differently, one
        # uint8 step of rounding at most.
        assert np.abs(written - tf.io.decode_png(served["colorized_bytes"][0]).numpy()).max() <= 1
