"""The REST client: outputs beside their inputs, never overwritten, refused before any request."""
from __future__ import annotations

from pathlib import Path

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
