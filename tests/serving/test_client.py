"""The REST client: outputs beside their inputs, never overwritten, refused before any request; versions as
TF-Serving reads them."""
from __future__ import annotations

from pathlib import Path

import pytest

from export.version_names import MAX_VERSION
from serving import client
from tests.helpers import photo_crops, save_image


def test_client_keeps_relative_folders_and_refuses_collisions_before_sending_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a.jpg", "sub/a.png", "b.jpg", "b.png"):
        save_image(tmp_path / name, photo_crops(1)[0])
    out = tmp_path / "out"
    assert client.output_paths([Path("a.jpg"), Path("sub/a.png")], out) == {
        Path("a.jpg"): out / "a.png", Path("sub/a.png"): out / "sub" / "a.png"}
    # No server listens on this port: a request would fail with "cannot reach the server".
    code = client.main(["a.jpg", "b.jpg", "b.png", "--out", str(out), "--url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 1 and "nothing was written: b.jpg and b.png would both be written to" in err
    assert "cannot reach" not in err and not out.exists()
    out.mkdir()
    (out / "a.png").write_bytes(b"earlier result")
    assert client.main(["a.jpg", "--out", str(out), "--url", "http://127.0.0.1:9"]) == 1
    assert "exists already (--overwrite replaces it)" in capsys.readouterr().err
    assert (out / "a.png").read_bytes() == b"earlier result"


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
