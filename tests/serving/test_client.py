"""The REST client: outputs beside their inputs, never overwritten, collisions refused before any request,
outputs already written skipped; versions and the other counts as TF-Serving and the flags' help read them."""
from __future__ import annotations

from pathlib import Path

import pytest

from export.version_names import MAX_VERSION
from serving import client, client_folders
from tests.helpers import photo_crops, save_image


def test_client_keeps_relative_folders_refuses_collisions_and_skips_existing_outputs_before_sending_anything(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.jpg", "sub/a.png", "b.jpg", "b.png"):
        save_image(tmp_path / name, photo_crops(1)[0])
    out = tmp_path / "out"
    assert client_folders.plan_outputs([Path("a.jpg"), Path("sub/a.png")], out).targets == {
        Path("a.jpg"): out / "a.png", Path("sub/a.png"): out / "sub" / "a.png"}
    # No server listens on this port: a request would fail with "cannot reach the server".
    code = client.main(["a.jpg", "b.jpg", "b.png", "--out", str(out), "--url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 1 and "nothing was written: b.jpg and b.png would both be written to" in err
    assert "cannot reach" not in err and not out.exists()
    out.mkdir()
    (out / "a.png").write_bytes(b"earlier result")
    assert client.main(["a.jpg", "--out", str(out), "--url", "http://127.0.0.1:9"]) == 0
    captured = capsys.readouterr()
    assert "cannot reach" not in captured.err
    assert captured.out.splitlines()[-1] == (f"Colorized 0 of 0 images into {out}; "
                                             "skipped 1 already written (--overwrite replaces them)")
    assert (out / "a.png").read_bytes() == b"earlier result"
    # An existing output does not hide a collision: still refused before anything is sent.
    assert client.main(["b.jpg", "b.png", "--out", str(out), "--url", "http://127.0.0.1:9"]) == 1
    assert "would both be written to" in capsys.readouterr().err


def test_the_client_takes_versions_as_tf_serving_reads_them():
    parse = client.build_parser().parse_args
    assert parse(["a.jpg", "--out", "out", "--version", "007"]).version == 7
    assert parse(["a.jpg", "--out", "out", "--version", str(MAX_VERSION)]).version == MAX_VERSION


@pytest.mark.parametrize("value", ["²", "9" * 20, "-1", "0"])
def test_a_version_tf_serving_would_not_read_is_a_usage_error_before_any_request(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        client.main(["a.jpg", "--out", str(tmp_path / "out"), "--url", "http://127.0.0.1:9", "--version", value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --version: expected a version number TF-Serving reads (ASCII digits, 1 to {MAX_VERSION})" in err
    assert f"got {value!r}" in err and "cannot reach" not in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--concurrency", "0", "expected requests in flight from 1 to 64, got '0'"),
    ("--concurrency", "100", "expected requests in flight from 1 to 64, got '100'"),
    ("--concurrency", "four", "expected requests in flight from 1 to 64, got 'four'"),
    ("--retries", "-1", "expected retries from 0 to 100, got '-1'"),
])
def test_a_concurrency_or_retry_count_out_of_bounds_is_a_usage_error_before_any_request(flag, value, expected, tmp_path,
                                                                                         capsys):
    with pytest.raises(SystemExit) as exit_info:
        client.main(["a.jpg", "--out", str(tmp_path / "out"), "--url", "http://127.0.0.1:9", flag, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: {expected}" in err and "cannot reach" not in err and not (tmp_path / "out").exists()
