"""examples/chat/server.py as users run it: a subprocess on the test's own backend."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from subprocesses import TIMEOUT, Child, python_process

import anyio_ws

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@asynccontextmanager
async def chat_server(backend: str) -> AsyncIterator[tuple[Child, str, int]]:
    """Run the chat server on a free port; yield it, its host and its port."""
    args = ("examples/chat/server.py", "--backend", backend, "--port", "0")
    async with python_process(*args) as child:
        first = await child.readline()
        match = re.fullmatch(r"chat on http://(127\.0\.0\.1):(\d+)/ \(Ctrl-C to stop\)", first)
        assert match is not None, first
        yield child, match[1], int(match[2])


async def stop(child: Child) -> str:
    """Ctrl-C the server; it must exit 0 and log nothing. Return the rest of stdout."""
    child.process.send_signal(signal.SIGINT)
    assert await child.wait() == 0
    assert await child.read_stderr() == ""
    return await child.read_rest()


async def http_get(host: str, port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP/1.1 GET: status, headers (lower-case names) and body."""
    async with await anyio.connect_tcp(host, port) as stream:
        await stream.send(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        data = b""
        try:
            while True:
                data += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {name.lower(): value for name, _, value in (h.partition(": ") for h in lines)}
    return int(status_line.split()[1]), headers, body


async def test_page_on_root_websocket_on_ws(anyio_backend_name: str) -> None:
    """GET / is the HTML page, which connects to /ws; other paths are 404."""
    async with chat_server(anyio_backend_name) as (child, host, port):
        status, headers, body = await http_get(host, port, "/")
        assert status == 200
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert int(headers["content-length"]) == len(body)
        assert body.startswith(b"<!doctype html>")
        assert b'"/ws"' in body and b"new WebSocket(" in body
        status, _, _ = await http_get(host, port, "/favicon.ico")
        assert status == 404
        await stop(child)


async def test_every_client_gets_every_message(anyio_backend_name: str) -> None:
    """A message goes to all clients, sender included, with only its name and text."""
    async with chat_server(anyio_backend_name) as (child, host, port):
        uri = f"ws://{host}:{port}/ws"
        async with anyio_ws.connect(uri) as ann, anyio_ws.connect(uri) as bob:
            await ann.send(json.dumps({"name": " ann ", "text": "hi é", "admin": True}))
            for ws in ann, bob:
                assert json.loads(await ws.recv()) == {"name": "ann", "text": "hi é"}
            await bob.send(json.dumps({"name": "bob", "text": "hello"}))
            for ws in ann, bob:
                assert json.loads(await ws.recv()) == {"name": "bob", "text": "hello"}
        await stop(child)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("not json", "not JSON"),
        (b'{"name": "ann", "text": "hi"}', "send JSON as text, not binary"),
        ('["ann", "hi"]', 'expected {"name": ..., "text": ...}'),
        ('{"name": 1, "text": "hi"}', "name must be a string of 1 to 32 characters"),
        ('{"name": "   ", "text": "hi"}', "name must be a string of 1 to 32 characters"),
        ('{"name": "ann"}', "text must be a string of 1 to 1000 characters"),
        (json.dumps({"name": "ann", "text": "x" * 1001}), "text must be"),
    ],
    ids=["not-json", "binary", "not-object", "name-type", "name-blank", "no-text", "text-long"],
)
async def test_bad_message_gets_an_error_and_nobody_else_sees_it(
    anyio_backend_name: str, message: str | bytes, error: str
) -> None:
    """Invalid input is answered with {"error": ...} to its sender only; the chat goes on."""
    async with chat_server(anyio_backend_name) as (child, host, port):
        uri = f"ws://{host}:{port}/ws"
        async with anyio_ws.connect(uri) as ann, anyio_ws.connect(uri) as bob:
            await ann.send(message)
            reply = json.loads(await ann.recv())
            assert list(reply) == ["error"] and reply["error"].startswith(error)
            await ann.send(json.dumps({"name": "ann", "text": "still here"}))
            for ws in ann, bob:  # bob's first message is this one
                assert json.loads(await ws.recv()) == {"name": "ann", "text": "still here"}
        await stop(child)


async def test_oversized_message_closes_only_its_connection(anyio_backend_name: str) -> None:
    """A message over 4 KiB closes its sender with 1009; the others keep chatting."""
    async with chat_server(anyio_backend_name) as (child, host, port):
        uri = f"ws://{host}:{port}/ws"
        async with anyio_ws.connect(uri) as ann, anyio_ws.connect(uri) as bob:
            async with anyio_ws.connect(uri) as eve:
                await eve.send(json.dumps({"name": "eve", "text": "x" * 5000}))
                with pytest.raises(anyio_ws.ConnectionClosedError):
                    await eve.recv()
                assert eve.close_code == 1009
            await bob.send(json.dumps({"name": "bob", "text": "fine"}))
            for ws in ann, bob:
                assert json.loads(await ws.recv()) == {"name": "bob", "text": "fine"}
        await stop(child)


def stalled_client(host: str, port: int) -> socket.socket:
    """A WebSocket client with a tiny receive buffer that never reads after the handshake."""
    sock = socket.socket()
    sock.settimeout(TIMEOUT)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: small window
    sock.connect((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)  # one byte at a time: leave the frames after it unread
    assert response.startswith(b"HTTP/1.1 101 ")
    return sock


async def test_stalled_client_does_not_hold_up_the_room(anyio_backend_name: str) -> None:
    """A client that stops reading is skipped (and logged) while the others chat on."""
    sent = {"name": "ann", "text": "€" * 1000}  # 3 kB in, 6 kB out (the server escapes "€")
    # Linux buffers up to 4 MiB for the stalled client (tcp_wmem): send well beyond, so
    # that a server that waited for it would stop relaying, and this exchange would hang.
    count = 12 * 2**20 // len(json.dumps(sent))
    async with chat_server(anyio_backend_name) as (child, host, port):
        stderr: list[str] = []

        async def read_stderr() -> None:  # read as it comes: a full pipe would block the server
            stderr.append(await child.read_stderr())

        async with anyio.create_task_group() as group:
            group.start_soon(read_stderr)
            stalled = await anyio.to_thread.run_sync(stalled_client, host, port)
            try:
                async with anyio_ws.connect(f"ws://{host}:{port}/ws", compression=None) as ann:
                    for _ in range(count):
                        await ann.send(json.dumps(sent, ensure_ascii=False))
                        assert json.loads(await ann.recv()) == sent
            finally:
                stalled.close()
            child.process.send_signal(signal.SIGINT)
            assert await child.wait() == 0
        assert "skipped broadcast: write buffer over write_limit" in stderr[0]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
async def test_signal_closes_every_client_with_1001(
    anyio_backend_name: str, signum: signal.Signals
) -> None:
    """Ctrl-C or SIGTERM: every client gets 1001 "going away", the server exits 0."""
    async with chat_server(anyio_backend_name) as (child, host, port):
        uri = f"ws://{host}:{port}/ws"
        async with anyio_ws.connect(uri) as ann, anyio_ws.connect(uri) as bob:
            await ann.send(json.dumps({"name": "ann", "text": "bye"}))
            for ws in ann, bob:
                assert json.loads(await ws.recv()) == {"name": "ann", "text": "bye"}
            child.process.send_signal(signum)
            for ws in ann, bob:
                with pytest.raises(anyio_ws.ConnectionClosedOK):
                    await ws.recv()
                assert ws.close_code == 1001
        assert await child.wait() == 0
        assert await child.read_rest() == f"{signum.name}: closing connections\n"
        assert await child.read_stderr() == ""
