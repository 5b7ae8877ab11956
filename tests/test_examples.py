"""The examples run as users run them: as scripts, on both backends."""

from __future__ import annotations

import re
import signal
import sys

import pytest
from subprocesses import python_process, run_python

import anyio_ws

EXAMPLE_BACKENDS = pytest.mark.parametrize("example_backend", ["asyncio", "trio"])


@EXAMPLE_BACKENDS
def test_echo_runs_to_completion(example_backend: str) -> None:
    """echo.py: the client's messages come back unchanged, the ping is answered, 1000."""
    result = run_python("examples/echo.py", "--backend", example_backend)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"server listening on ws://127\.0\.0\.1:\d+/", lines[0])
    assert lines[1:7] == [
        "> 'Hello'",
        "< 'Hello'",
        "> 'WebSocket'",
        "< 'WebSocket'",
        "> b'\\x00\\x01 bytes too'",
        "< b'\\x00\\x01 bytes too'",
    ]
    assert re.fullmatch(r"ping answered in \d+\.\d\d ms", lines[7])
    assert lines[8:] == ["client closed with code 1000"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@EXAMPLE_BACKENDS
async def test_server_closes_with_1001_on_signal(
    example_backend: str, signum: signal.Signals
) -> None:
    """server.py: SIGINT or SIGTERM closes connections with 1001, then exits 0."""
    args = ("examples/server.py", "--backend", example_backend, "--port", "0")
    async with python_process(*args) as child:
        first = await child.readline()
        match = re.fullmatch(r"listening on (ws://127\.0\.0\.1:\d+/) \(Ctrl-C to stop\)", first)
        assert match is not None, first
        async with anyio_ws.connect(match[1]) as ws:
            await ws.send("still there?")
            assert await ws.recv() == "still there?"
            child.process.send_signal(signum)
            with pytest.raises(anyio_ws.ConnectionClosedOK):
                await ws.recv()
            assert ws.close_code == 1001
        assert await child.wait() == 0
        assert await child.readline() == f"{signum.name}: closing connections"
        assert await child.read_stderr() == ""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@EXAMPLE_BACKENDS
async def test_server_exits_on_signal_without_connections(example_backend: str) -> None:
    """server.py with nobody connected still stops cleanly on SIGTERM."""
    args = ("examples/server.py", "--backend", example_backend, "--port", "0")
    async with python_process(*args) as child:
        assert (await child.readline()).startswith("listening on ws://127.0.0.1:")
        child.process.send_signal(signal.SIGTERM)
        assert await child.wait() == 0
        assert await child.read_rest() == "SIGTERM: closing connections\n"
