"""The interactive client behind ``python -m anyio_ws ws://host:port/path``.

It prints every message it receives and sends every line typed on stdin as a text
message. End of input (Ctrl-D) or Ctrl-C closes the connection with 1000; when the
server closes it, the close code and reason are printed. Exit status: 0 once
connected, 1 when the connection cannot be opened, 2 for bad arguments.

Stdin is read by a daemon thread, which hands lines to the event loop through a
blocking portal: a blocking ``readline()`` never stalls the loop, on either backend,
and a thread still waiting for a line never keeps the process alive at exit.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import CancelledError
from contextlib import AbstractContextManager, asynccontextmanager, nullcontext
from typing import TextIO

import anyio
from anyio.from_thread import BlockingPortal
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from . import __version__
from .client import ClientConnection, connect
from .core.frames import Close
from .exceptions import ConnectionClosed, WebSocketException

__all__ = ["main"]

# Control characters (C0, DEL, C1) could move the cursor or recolour the terminal:
# show them as Python escapes instead. Everything else printable is shown as is.
_ESCAPES = {code: repr(chr(code))[1:-1] for code in [*range(32), *range(127, 160)]}


def escape(text: str) -> str:
    """Make ``text`` safe to print on a terminal by escaping control characters."""
    return text.translate(_ESCAPES)


def describe(message: str | bytes) -> str:
    """One line for a received message: text as is, binary as hex bytes."""
    if isinstance(message, str):
        return f"< {escape(message)}"
    return f"< (binary, {len(message)} bytes) {message.hex(' ')}"


class Console:
    """Prints lines, and the ``> `` prompt when a person is typing.

    On a terminal a message that arrives while the user types is inserted above the
    line being typed (ANSI save cursor, insert line, restore cursor) so the input is
    not garbled. Piped output gets plain lines, flushed at once.
    """

    def __init__(self, out: TextIO, *, interactive: bool) -> None:
        self.out = out
        self.interactive = interactive

    def prompt(self) -> None:
        if self.interactive:
            self._write("> ")

    def print(self, line: str) -> None:
        if self.interactive:
            # Save cursor, new line, up, insert a line, write, restore cursor, down.
            self._write(f"\0337\n\033[A\033[L{line}\n\0338\033[B")
        else:
            self._write(f"{line}\n")

    def print_last(self, line: str) -> None:
        """Print over the prompt line: nothing is typed after this."""
        self._write(f"\r\033[K{line}\n" if self.interactive else f"{line}\n")

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


# ------------------------------------------------------------------ stdin


def _read_lines(
    stdin: TextIO, portal: BlockingPortal, lines: MemoryObjectSendStream[str], console: Console
) -> None:
    """Thread body: pass each line of ``stdin`` to the loop; closing ``lines`` means EOF."""
    try:
        while True:
            console.prompt()
            line = stdin.readline()
            if not line:
                break
            portal.call(lines.send, line.rstrip("\r\n"))
        portal.call(lines.aclose)
    except (RuntimeError, CancelledError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        pass  # the session is over: the portal stopped, or nobody reads lines any more


@asynccontextmanager
async def stdin_lines(
    stdin: TextIO, console: Console
) -> AsyncIterator[MemoryObjectReceiveStream[str]]:
    """Lines typed on ``stdin``, read by a daemon thread; the stream ends at EOF."""
    send, receive = anyio.create_memory_object_stream[str](1)
    async with BlockingPortal() as portal:
        thread = threading.Thread(
            target=_read_lines, args=(stdin, portal, send, console), daemon=True
        )
        thread.start()
        try:
            with receive:
                yield receive
        finally:
            await portal.stop(cancel_remaining=True)
            send.close()  # the thread may still wait for a line: it will find the end


# ----------------------------------------------------------------- session


async def _print_incoming(ws: ClientConnection, console: Console, done: Callable[[], None]) -> None:
    try:
        async for message in ws:
            console.print(describe(message))
    except ConnectionClosed:
        pass  # abnormal closure: the status printed at the end says which
    done()


async def _send_lines(ws: ClientConnection, lines: MemoryObjectReceiveStream[str]) -> None:
    """Send each line; at EOF start the closing handshake.

    Messages the server sent before answering the close are still printed, so
    ``echo hi | python -m anyio_ws ws://...`` shows the reply.
    """
    try:
        async for line in lines:
            await ws.send(line)
    except ConnectionClosed:
        return
    await ws.close()


def _interrupts() -> AbstractContextManager[AsyncIterator[int] | None]:
    """Ctrl-C as a stream of signals; ``None`` on Windows, where asyncio has none."""
    if sys.platform == "win32":
        return nullcontext()
    return anyio.open_signal_receiver(signal.SIGINT)


async def _close_on_interrupt(ws: ClientConnection, interrupts: AsyncIterator[int]) -> None:
    """Ctrl-C closes with 1000 too; a second one interrupts the closing handshake."""
    async for _ in interrupts:
        break
    await ws.close()


async def interactive_client(uri: str, *, stdin: TextIO, console: Console) -> int:
    """Connect to ``uri`` and run the session; return the exit status."""
    async with anyio.create_task_group() as connection_group:
        try:
            ws = await connect(uri, task_group=connection_group)
        except (OSError, TimeoutError, WebSocketException) as exc:
            print(f"Failed to connect to {uri}: {_one_line(exc)}.", file=sys.stderr, flush=True)
            return 1
        try:
            with _interrupts() as interrupts:
                console.print(f"Connected to {uri}.")
                async with stdin_lines(stdin, console) as lines:
                    async with anyio.create_task_group() as session:
                        session.start_soon(
                            _print_incoming, ws, console, session.cancel_scope.cancel
                        )
                        session.start_soon(_send_lines, ws, lines)
                        if interrupts is not None:
                            session.start_soon(_close_on_interrupt, ws, interrupts)
        finally:
            await ws.close()
    assert ws.close_code is not None
    status = Close(ws.close_code, ws.close_reason or "")
    console.print_last(f"Connection closed: {escape(str(status))}.")
    return 0


def _one_line(exc: BaseException) -> str:
    """The exception's message on one line, or its type when it has none.

    An ``OSError`` without an errno may wrap one that has it (anyio's "All connection
    attempts failed"), and the backends word socket errors differently ("Connect call
    failed"): for a system error, say what the OS says ("Connection refused").
    """
    if isinstance(exc, OSError) and not exc.errno and isinstance(exc.__cause__, OSError):
        exc = exc.__cause__
    if isinstance(exc, OSError) and exc.errno and not isinstance(exc, socket.gaierror):
        return os.strerror(exc.errno)
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


# -------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the client on the chosen backend, return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m anyio_ws",
        description="Interactive WebSocket client: prints what it receives, "
        "sends each line typed. Ctrl-D or Ctrl-C closes.",
    )
    parser.add_argument("uri", help="ws:// or wss:// URI to connect to")
    parser.add_argument(
        "--backend", choices=["asyncio", "trio"], default="asyncio", help="event loop to run on"
    )
    parser.add_argument("--version", action="version", version=f"anyio_ws {__version__}")
    args = parser.parse_args(argv)

    if args.backend == "trio":
        try:
            import trio  # noqa: F401
        except ImportError:
            parser.exit(2, "anyio_ws: --backend trio needs trio: pip install 'anyio-ws[trio]'\n")

    console = Console(sys.stdout, interactive=sys.stdin.isatty() and sys.stdout.isatty())
    try:
        status: int = anyio.run(
            lambda: interactive_client(args.uri, stdin=sys.stdin, console=console),
            backend=args.backend,
        )
    except KeyboardInterrupt:  # before the session started, or a second Ctrl-C
        console.print_last("Interrupted.")
        return 130
    return status
