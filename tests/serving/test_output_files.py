"""The client's outputs: written whole, under --out, never through a link planted below it (real files and links)."""
from pathlib import PurePath

import pytest

from serving.output_files import UnexpectedLink, write_output


def test_outputs_are_written_whole_in_new_folders_with_nothing_left_beside_them(tmp_path):
    written = write_output(tmp_path / "out", PurePath("a/b/c.png"), b"png bytes")
    assert written.read_bytes() == b"png bytes"
    assert [p.name for p in written.parent.iterdir()] == ["c.png"]  # no temporary file left


def test_an_existing_output_or_a_link_at_its_name_is_refused_without_overwrite(tmp_path):
    out, victim = tmp_path / "out", tmp_path / "victim"
    victim.write_bytes(b"keep")
    out.mkdir()
    (out / "x.png").symlink_to(victim)
    (out / "dangling.png").symlink_to(tmp_path / "nowhere")
    for name in ("x.png", "dangling.png"):
        with pytest.raises(FileExistsError):
            write_output(out, PurePath(name), b"new")
    assert victim.read_bytes() == b"keep" and not (tmp_path / "nowhere").exists()
    assert sorted(p.name for p in out.iterdir()) == ["dangling.png", "x.png"]


def test_with_overwrite_a_link_is_replaced_not_followed(tmp_path):
    out, victim = tmp_path / "out", tmp_path / "victim"
    victim.write_bytes(b"keep")
    out.mkdir()
    (out / "x.png").symlink_to(victim)
    write_output(out, PurePath("x.png"), b"new", overwrite=True)
    assert victim.read_bytes() == b"keep"
    assert not (out / "x.png").is_symlink() and (out / "x.png").read_bytes() == b"new"


def test_a_linked_folder_below_out_is_refused_but_out_itself_may_be_a_link(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").symlink_to(elsewhere)
    with pytest.raises(UnexpectedLink, match="sub is a link or not a folder"):
        write_output(out, PurePath("sub/a.png"), b"x")
    assert list(elsewhere.iterdir()) == []
    (tmp_path / "chosen").symlink_to(elsewhere)  # the user's own --out: followed
    assert write_output(tmp_path / "chosen", PurePath("a.png"), b"x").read_bytes() == b"x"
    assert (elsewhere / "a.png").read_bytes() == b"x"
