"""The interface every implementation adapter provides.

An adapter is what a user of the library would write for an echo server and for a
client that sends a message and waits for its echo: nothing more. The harness calls
``serve()`` in the server role and ``connect()`` in the client role, on the adapter's
own event loop (``backend``). For the broadcast workloads (f) and (fz) it calls
``serve_fanout()`` instead of ``serve()``: a server that sends each message of a round
to every connected client, as a user of the library would write it (``bench.fanout``).
For (fzs) it calls ``serve_fanout_shared()``: the same with compression, each message
compressed once for all alike connections; only libraries that can do that have one.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

Message = str | bytes


class ClientConn(Protocol):
    """What the client-role workloads need from a connection."""

    async def send(self, message: Any) -> None: ...

    async def recv(self) -> Any: ...


class Unsupported(Exception):
    """The implementation cannot run this configuration (compression, say)."""


class Implementation(ABC):
    """One implementation under test, on one event loop."""

    name: str = ""
    backend: str = "asyncio"
    """``"asyncio"`` or ``"trio"``: the loop ``serve()``/``connect()`` run on."""
    distribution: str = ""
    """Package whose version is reported."""
    raw: bool = False
    """A raw TCP echo baseline: no handshake, no framing."""
    force_uvloop: bool = False
    requires: tuple[str, ...] = ()
    """Modules that must be importable."""
    server_only: bool = False

    no_compression_reason = "no permessage-deflate support"
    no_shared_compression_reason = "no shared compression"

    def supports_compression(self) -> bool:
        return False

    @abstractmethod
    async def serve(self, host: str, *, compression: bool, ready: Callable[[int], None]) -> None:
        """Run an echo server on ``host`` and a free port until cancelled.

        Call ``ready(port)`` once it accepts connections.
        """

    def fanout_unsupported(self, compression: bool) -> str | None:
        """Why ``serve_fanout()`` cannot run (with ``compression``); None when it can."""
        if type(self).serve_fanout is Implementation.serve_fanout:
            return "no broadcast server in its adapter"
        if compression and not self.raw and not self.supports_compression():
            return self.no_compression_reason
        return None

    async def serve_fanout(
        self, host: str, *, compression: bool, ready: Callable[[int], None]
    ) -> None:
        """Run the broadcast server of (f)/(fz) on ``host`` until cancelled.

        Each connection is kept in a ``bench.fanout.Room``; a round request (a text
        message) is answered by sending ``fanout.message(seq)`` for each ``seq`` of the
        round to every client, yielding to the event loop between two messages.
        """
        raise Unsupported(self.fanout_unsupported(compression) or "")

    def supports_shared_compression(self) -> bool:
        """Whether ``serve_fanout_shared()`` runs (the library has such a setting)."""
        return False

    async def serve_fanout_shared(self, host: str, *, ready: Callable[[int], None]) -> None:
        """The broadcast server of (fzs): ``serve_fanout(compression=True)``, with the
        library's setting that compresses a broadcast message once for every connection
        that negotiated the same parameters, instead of once per connection.
        """
        raise Unsupported(self.no_shared_compression_reason)

    @abstractmethod
    def connect(
        self, host: str, port: int, *, compression: bool
    ) -> contextlib.AbstractAsyncContextManager[ClientConn]:
        """Open a client connection to ``ws://host:port/``; closes cleanly on exit."""

    @contextlib.asynccontextmanager
    async def client_scope(self) -> AsyncIterator[None]:
        """Anything a client program sets up once (aiohttp's ``ClientSession``)."""
        yield


def check_compression(impl: Implementation, compression: bool) -> None:
    if compression and not impl.supports_compression():
        raise Unsupported(f"{impl.name} does not support permessage-deflate")
