"""``python -m anyio_ws``: the interactive client, run as a subprocess against our server.

The server runs in the test (both backends, through the fixture); the client runs
with ``--backend asyncio`` and with ``--backend trio``.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

import anyio
import pytest
from anyio.streams.memory import MemoryObjectReceiveStream
from subprocesses import TIMEOUT, python_process, run_python

import anyio_ws
import anyio_ws.typing

CLI_BACKENDS = pytest.mark.parametrize("cli_backend", ["asyncio", "trio"])


async def scripted(ws: anyio_ws.ServerConnection, log: list[anyio_ws.typing.Data]) -> None:
    """Echo, except for a few commands that make the server do something else.

    A reply that fails because the client closed meanwhile is skipped, so that every
    message the client sent is still read and logged.
    """
    async for message in ws:
        log.append(message)
        reply: anyio_ws.typing.Data = message
        if message == "binary please":
            reply = b"\x00\x01 \xff"
        elif message == "escape please":
            reply = "red \x1b[31m bell \x07"
        elif message == "close please":
            await ws.close(4000, "done")
            continue
        with suppress(anyio_ws.ConnectionClosed):
            await ws.send(reply)


@dataclass
class RecordingServer:
    uri: str
    messages: list[anyio_ws.typing.Data]
    """Every message received, all connections together."""
    close_codes: MemoryObjectReceiveStream[int | None]

    async def close_code(self) -> int | None:
        """The close code of the next connection to end (bounded: a hang fails the test)."""
        with anyio.fail_after(TIMEOUT):
            return await self.close_codes.receive()


@asynccontextmanager
async def cli_server() -> AsyncIterator[RecordingServer]:
    """A server running ``scripted`` that records messages and close codes."""
    send, receive = anyio.create_memory_object_stream[int | None](10)
    messages: list[anyio_ws.typing.Data] = []

    async def handler(ws: anyio_ws.ServerConnection) -> None:
        try:
            await scripted(ws, messages)
        finally:  # the handler may be cancelled once its connection closed: don't await
            send.send_nowait(ws.close_code)

    with send, receive:
        async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
            yield RecordingServer(f"ws://127.0.0.1:{server.port}/", messages, receive)


def cli(backend: str, uri: str) -> tuple[str, ...]:
    return ("-m", "anyio_ws", "--backend", backend, uri)


@CLI_BACKENDS
async def test_lines_are_sent_and_eof_closes_with_1000(cli_backend: str) -> None:
    """Each line goes out as a text message; the echo is printed; Ctrl-D closes with 1000."""
    async with cli_server() as server:
        async with python_process(*cli(cli_backend, server.uri)) as child:
            assert await child.readline() == f"Connected to {server.uri}."
            for line in ["hello", "wörld ✓", ""]:
                await child.writeline(line)
                assert await child.readline() == f"< {line}"
            await child.stdin.aclose()
            assert await child.readline() == "Connection closed: 1000 (normal closure)."
            assert await child.wait() == 0
            assert await child.read_stderr() == ""
        assert await server.close_code() == 1000


@CLI_BACKENDS
async def test_piped_input_prints_every_reply_before_closing(cli_backend: str) -> None:
    """With all input at once, replies that arrive during the closing handshake are printed."""
    async with cli_server() as server:
        async with python_process(*cli(cli_backend, server.uri)) as child:
            await child.stdin.send(b"one\ntwo\r\nthree\n")
            await child.stdin.aclose()
            output = (await child.read_rest()).splitlines()
            assert await child.wait() == 0
        assert server.messages == ["one", "two", "three"]
        assert await server.close_code() == 1000
        # The server may see the close frame before it echoes the last lines (then it
        # may not answer them); what it did send before its own close frame is printed.
        assert output[0] == f"Connected to {server.uri}."
        assert output[-1] == "Connection closed: 1000 (normal closure)."
        echoes = output[1:-1]
        assert echoes == ["< one", "< two", "< three"][: len(echoes)]


@pytest.mark.skipif(sys.platform == "win32", reason="no SIGINT to send on Windows")
@CLI_BACKENDS
async def test_ctrl_c_closes_with_1000(cli_backend: str) -> None:
    """SIGINT runs the closing handshake with 1000 and exits 0, without a traceback."""
    async with cli_server() as server:
        async with python_process(*cli(cli_backend, server.uri)) as child:
            assert await child.readline() == f"Connected to {server.uri}."
            await child.writeline("ready?")
            assert await child.readline() == "< ready?"
            child.process.send_signal(signal.SIGINT)
            assert await child.readline() == "Connection closed: 1000 (normal closure)."
            assert await child.wait() == 0
            assert await child.read_stderr() == ""
        assert await server.close_code() == 1000


@CLI_BACKENDS
async def test_server_close_prints_code_and_reason(cli_backend: str) -> None:
    """When the server closes, its code and reason are printed and the client exits 0."""
    async with cli_server() as server:
        async with python_process(*cli(cli_backend, server.uri)) as child:
            assert await child.readline() == f"Connected to {server.uri}."
            await child.writeline("close please")
            assert await child.readline() == "Connection closed: 4000 (private use) (done)."
            assert await child.wait() == 0
        assert await server.close_code() == 4000


@CLI_BACKENDS
async def test_binary_and_control_characters_are_printed_readably(cli_backend: str) -> None:
    """Binary messages show as hex bytes; control characters in text are escaped."""
    async with cli_server() as server:
        async with python_process(*cli(cli_backend, server.uri)) as child:
            assert await child.readline() == f"Connected to {server.uri}."
            await child.writeline("binary please")
            assert await child.readline() == "< (binary, 4 bytes) 00 01 20 ff"
            await child.writeline("escape please")
            assert await child.readline() == "< red \\x1b[31m bell \\x07"
            await child.stdin.aclose()
            assert await child.wait() == 0


@CLI_BACKENDS
def test_refused_connection_is_one_line_and_status_1(cli_backend: str, refused_port: int) -> None:
    """A refused connection prints one line on stderr, no traceback, and exits 1."""
    uri = f"ws://127.0.0.1:{refused_port}/"
    result = run_python(*cli(cli_backend, uri))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"Failed to connect to {uri}: Connection refused.\n"


def test_invalid_uri_is_one_line_and_status_1() -> None:
    """A URI that is not ws:// or wss:// is reported on one line."""
    result = run_python("-m", "anyio_ws", "http://example.com/")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Failed to connect to http://example.com/: "
        "http://example.com/ isn't a valid URI: scheme isn't ws or wss."
    ]


def test_trio_backend_without_trio_says_how_to_install_it() -> None:
    """``--backend trio`` without trio installed is a clear usage error, not a traceback."""
    code = (
        "import runpy, sys; sys.modules['trio'] = None; "
        "sys.argv = ['anyio_ws', '--backend', 'trio', 'ws://127.0.0.1:1/']; "
        "runpy.run_module('anyio_ws', run_name='__main__')"
    )
    result = run_python("-c", code)
    assert result.returncode == 2
    assert result.stderr == "anyio_ws: --backend trio needs trio: pip install 'anyio-ws[trio]'\n"


def test_importing_the_package_imports_neither_the_cli_nor_trio() -> None:
    """``import anyio_ws`` stays lean: the CLI and trio load only when used."""
    code = "import sys, anyio_ws; print(sorted({'anyio_ws.cli', 'trio'} & set(sys.modules)))"
    result = run_python("-c", code)
    assert result.stdout == "[]\n", result.stderr


def test_missing_uri_is_a_usage_error() -> None:
    """Without a URI the usage is printed and the status is 2."""
    result = run_python("-m", "anyio_ws")
    assert result.returncode == 2
    assert "usage: python -m anyio_ws" in result.stderr
