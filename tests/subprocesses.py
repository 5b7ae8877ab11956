"""Run Python in a subprocess with this worktree importable, bounded and never leaked."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

ROOT = Path(__file__).resolve().parent.parent
"""The project root: ``anyio_ws`` and ``examples`` are there."""

TIMEOUT = 30
"""Seconds any one subprocess may live: a bound against hangs, not a timing assertion."""


def python_env() -> dict[str, str]:
    """The environment with ROOT first on PYTHONPATH and UTF-8 standard streams."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` to completion with stdin closed; killed after TIMEOUT."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=python_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
    )


class Child:
    """A running Python subprocess, read and written line by line."""

    def __init__(self, process: anyio.abc.Process) -> None:
        assert process.stdin and process.stdout and process.stderr
        self.process = process
        self.stdin = process.stdin
        self.stdout = BufferedByteReceiveStream(process.stdout)

    async def readline(self) -> str:
        """The next line of stdout, without its line ending."""
        line = await self.stdout.receive_until(b"\n", 65536)
        return line.decode().rstrip("\r")

    async def writeline(self, line: str) -> None:
        await self.stdin.send(f"{line}\n".encode())

    async def read_rest(self) -> str:
        """Everything left on stdout, up to EOF."""
        chunks = []
        try:
            while True:
                chunks.append(await self.stdout.receive())
        except anyio.EndOfStream:
            return b"".join(chunks).decode()

    async def read_stderr(self) -> str:
        assert self.process.stderr is not None
        chunks = []
        try:
            while True:
                chunks.append(await self.process.stderr.receive())
        except anyio.EndOfStream:
            return b"".join(chunks).decode()

    async def wait(self) -> int:
        return await self.process.wait()


@asynccontextmanager
async def python_process(*args: str) -> AsyncIterator[Child]:
    """Start ``python *args``; fail after TIMEOUT, and kill it if it is still running."""
    process = await anyio.open_process([sys.executable, *args], cwd=ROOT, env=python_env())
    try:
        with anyio.fail_after(TIMEOUT):
            yield Child(process)
    finally:
        if process.returncode is None:
            with suppress(ProcessLookupError):  # it may have exited just now
                process.kill()
        with anyio.CancelScope(shield=True):
            await process.aclose()


@asynccontextmanager
async def python_process_within(seconds: float, *args: str) -> AsyncIterator[Child]:
    """Like ``python_process``, but the subprocess may live ``seconds`` instead of TIMEOUT.

    For servers that outlive several steps of a test. The caller reads stderr (or it may
    fill its pipe and block the child).
    """
    process = await anyio.open_process([sys.executable, *args], cwd=ROOT, env=python_env())
    try:
        with anyio.fail_after(seconds):
            yield Child(process)
    finally:
        if process.returncode is None:
            with suppress(ProcessLookupError):  # it may have exited just now
                process.kill()
        with anyio.CancelScope(shield=True):
            await process.aclose()


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for programs that need a number)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def redis_server(executable: str, seconds: float = 10) -> AsyncIterator[int]:
    """Run a throwaway ``redis-server`` on a free 127.0.0.1 port; yield the port.

    Nothing is saved to disk. It is ready (answers PING) when this yields, within
    ``seconds``, and is killed by its PID at exit: never a system-wide service.
    """
    port = free_tcp_port()
    command = [executable, "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no"]
    process = await anyio.open_process(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with anyio.fail_after(seconds):
            while not await _redis_pongs(port):
                if process.returncode is not None:
                    raise RuntimeError(f"redis-server exited with status {process.returncode}")
                await anyio.sleep(0.05)  # polled: another process gives no event when ready
        yield port
    finally:
        if process.returncode is None:
            with suppress(ProcessLookupError):
                process.kill()
        with anyio.CancelScope(shield=True):
            await process.aclose()


async def _redis_pongs(port: int) -> bool:
    """Whether a Redis server on ``port`` answers PING."""
    try:
        async with await anyio.connect_tcp("127.0.0.1", port) as stream:
            await stream.send(b"PING\r\n")
            reader = BufferedByteReceiveStream(stream)
            return await reader.receive_until(b"\r\n", 1024) == b"+PONG"
    except (OSError, anyio.EndOfStream, anyio.IncompleteRead):
        return False
