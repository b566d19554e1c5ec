"""Writing the client's outputs under its `--out` folder without following links planted inside it.

The client writes where the user pointed `--out` (itself a link if the user chose one), but a link
that appears inside it (a sub-folder, or an output name, pointing at `~/.bashrc` or `/etc`) would
make a plain `open(path, "wb")` write somewhere else. So every folder below `--out` is opened with
O_NOFOLLOW, relative to its parent's descriptor, and each output is written to a fresh temporary
file there, fsynced, and renamed into place: a link at the output's name is replaced (with
`overwrite`) or refused, never written through, and a reader never sees half a PNG.
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path, PurePath

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


class UnexpectedLink(OSError):
    """A folder below `--out` is a symbolic link (or not a folder): nothing is written through it."""


def _open_folder(parent_fd: int, name: str, shown: PurePath) -> int:
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, dir_fd=parent_fd)
    try:
        return os.open(name, _DIRECTORY_FLAGS, dir_fd=parent_fd)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):  # O_NOFOLLOW met a link, or a file stands there
            raise UnexpectedLink(f"{shown} is a link or not a folder; not writing through it") from None
        raise


def write_output(out: Path, relative: PurePath, data: bytes, overwrite: bool = False) -> Path:
    """Write `data` to `out / relative`, creating the folders below `out`; returns the path written.

    Raises:
        UnexpectedLink: a folder between `out` and the output is a link.
        FileExistsError: the output exists already (a link there included) and `overwrite` is off.
    """
    out.mkdir(parents=True, exist_ok=True)
    folder_fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)  # --out itself is the user's choice: followed
    try:
        shown = PurePath(out)
        for part in relative.parts[:-1]:
            shown /= part
            next_fd = _open_folder(folder_fd, part, shown)
            os.close(folder_fd)
            folder_fd = next_fd
        name = relative.name
        temporary = f".{name}.{secrets.token_hex(6)}.partial"
        file_fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=folder_fd)
        try:
            with os.fdopen(file_fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            if overwrite:
                os.replace(temporary, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)  # replaces a link, never follows it
            else:
                os.link(temporary, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd, follow_symlinks=False)
                os.unlink(temporary, dir_fd=folder_fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=folder_fd)
            raise
        os.fsync(folder_fd)
    finally:
        os.close(folder_fd)
    return out / relative
