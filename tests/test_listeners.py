"""Listener helpers: the Unix socket file a server made is removed, and only that file."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

from anyio_ws._listeners import UnixSocketFile, listen_unix

needs_unix = pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets")


def file_at(path: Path) -> UnixSocketFile:
    """The file now at ``path``, as ``listen_unix`` records it."""
    return UnixSocketFile(path, os.stat(path).st_ino)


def test_remove_deletes_the_file_it_knows(tmp_path: Path) -> None:
    """The file recorded is removed."""
    path = tmp_path / "ws.sock"
    path.touch()
    file_at(path).remove()
    assert not path.exists()


def test_remove_leaves_a_file_that_took_its_place(tmp_path: Path) -> None:
    """Another server's socket at the same path (another inode) is left alone."""
    path = tmp_path / "ws.sock"
    path.touch()
    ours = file_at(path)
    os.link(path, tmp_path / "keep")  # holds the old inode: the new file cannot reuse it
    path.unlink()
    path.touch()
    ours.remove()
    assert path.exists()


def test_remove_without_a_file_is_quiet(tmp_path: Path) -> None:
    """A file someone already removed is no error."""
    path = tmp_path / "ws.sock"
    path.touch()
    ours = file_at(path)
    path.unlink()
    ours.remove()
    assert not path.exists()


@needs_unix
async def test_listen_unix_records_the_socket_file(anyio_backend: object) -> None:
    """The listener's file is recorded with its inode, ready to be removed."""
    # A short path: AF_UNIX paths are limited to about 100 bytes; tmp_path can be longer.
    path = Path(tempfile.mkdtemp(prefix="anyio_ws-")) / "ws.sock"
    listener, socket_file = await listen_unix(path)
    try:
        assert socket_file is not None
        assert (socket_file.path, socket_file.inode) == (path, os.stat(path).st_ino)
    finally:
        await listener.aclose()
    socket_file.remove()
    assert not path.exists()
    path.parent.rmdir()
