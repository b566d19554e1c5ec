"""`python -m tfcolor.colorize` on photos of odd sizes, grayscale inputs and unreadable files."""
import numpy as np
import pytest
import tensorflow as tf

from tfcolor import colorize
from tfcolor.data import color, demo

from conftest import photo_crops, save_image

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
    ]:
        with pytest.raises(SystemExit) as exit_info:
            colorize.main(argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
