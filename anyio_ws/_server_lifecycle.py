"""``Server``: a running server, from its first accept to the end of its last connection.

It accepts on every listener, runs one task per connection (its opening handshake,
then its reader and handler: see ``ConnectionRunner``), and shuts down in one
direction only (``_Phase``): stop accepting, drop the handshakes under way, close
every connection (1001 unless ``close()`` said otherwise), give handlers
``close_timeout`` seconds, cancel what is left.
"""

from __future__ import annotations

import enum
import socket
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, cast

import anyio
import anyio.abc
from anyio.abc import ByteStream, SocketAttribute

from ._asyncio_stream import accept_socket
from ._pings import Keepalive
from ._server_connection import ServerConnection
from ._streams import _running_asyncio, abort
from .typing import LoggerLike

__all__ = ["Server"]


class _Phase(enum.IntEnum):
    """Where a server is in its life; it only ever moves down this list."""

    SERVING = 0
    DRAINING = 1
    """Not accepting; connections are left to end: ``close(close_connections=False)``,
    or shutdown has not reached them yet."""
    CLOSE_REQUESTED = 2
    """Not accepting; ``close()`` asked to close every connection with ``_close_code``."""
    CLOSING_CONNECTIONS = 3
    """Shutdown is closing every connection with ``_close_code``, a late handshake's too."""


class Server:
    """A running WebSocket server, as yielded by ``async with serve(...)``.

    ``connections`` is the set of open connections; ``addresses`` and ``port`` tell
    where it listens. ``close()`` stops it; ``wait_closed()`` waits for the end.
    """

    def __init__(
        self,
        listeners: Sequence[anyio.abc.Listener[Any]],
        handle_stream: Callable[[Server, ByteStream | socket.socket], Coroutine[Any, Any, None]],
        *,
        close_timeout: float | None,
        logger: LoggerLike,
        task_group: anyio.abc.TaskGroup | None = None,
        accept_sockets: bool = True,
        keepalive: Keepalive | None = None,
    ) -> None:
        self.listeners = list(listeners)
        self.connections: set[ServerConnection] = set()
        self.close_timeout = close_timeout
        self.logger = logger
        self._handle_stream = handle_stream
        self._task_group = task_group
        """Where connection tasks run: the caller's group, or ``None`` for our own."""
        self._accept_sockets = accept_sockets
        """The listeners are socket listeners we made: on asyncio, accept raw sockets."""
        self._accept_scope = anyio.CancelScope()
        self._keepalive = keepalive
        """Pings every connection (one task for all of them), if keepalive is on."""
        self._keepalive_scope = anyio.CancelScope()
        self._phase = _Phase.SERVING
        self._close_code = 1001
        """The code shutdown closes connections with: ``close()``'s, else going away."""
        self._handshakes: set[anyio.CancelScope] = set()
        """One scope per opening handshake under way: what ``close()`` drops at once."""
        self._tasks: set[anyio.CancelScope] = set()
        """One scope per connection task, handshake included: what shutdown may cancel."""
        self._closed = anyio.Event()
        self._task_gone = anyio.Event()

    @property
    def addresses(self) -> list[Any]:
        """The local address of every listening socket: ``(host, port, ...)`` or a path.

        A listener without a socket address (an in-memory one, say) is left out.
        """
        addresses = (
            listener.extra(SocketAttribute.local_address, None) for listener in self.listeners
        )
        return [address for address in addresses if address is not None]

    @property
    def port(self) -> int:
        """The port of the first TCP listener (handy with ``port=0``).

        Raises ``RuntimeError`` when no listener has a port (a Unix socket server:
        see ``addresses``).
        """
        for listener in self.listeners:
            port: int | None = listener.extra(SocketAttribute.local_port, None)
            if port is not None:
                return port
        raise RuntimeError("this server has no TCP listener, hence no port; see addresses")

    def close(self, close_connections: bool = True, code: int = 1001) -> None:
        """Stop accepting; with ``close_connections``, close them all with ``code``.

        Handlers get ``close_timeout`` seconds to finish after their connection closed;
        what remains is cancelled. Returns at once: ``wait_closed()`` waits for the end.
        """
        if self._phase is not _Phase.SERVING:
            return
        if close_connections:
            self._phase, self._close_code = _Phase.CLOSE_REQUESTED, code
        else:
            self._phase = _Phase.DRAINING
        self._accept_scope.cancel()
        for handshake in self._handshakes:  # not a connection yet: just drop it
            handshake.cancel()

    async def wait_closed(self) -> None:
        """Wait until the server is closed and every connection task has ended."""
        await self._closed.wait()

    async def serve_forever(self) -> None:
        """Serve until ``close()`` is called or the surrounding scope is cancelled."""
        await self._closed.wait()

    async def _start_in(self, group: anyio.abc.TaskGroup) -> None:
        """Start ``_run()`` in ``group`` (``serve``'s own, entered by hand)."""
        group.start_soon(self._run)

    async def _run(self) -> None:
        """Accept until closed; then close connections and wait for their tasks.

        Connection tasks run in the caller's ``task_group`` if one was given, else in a
        group of ours. Either way only their own scopes are ever cancelled here.
        """
        try:
            async with anyio.create_task_group() as own:
                group = own if self._task_group is None else self._task_group
                if self._keepalive is not None:
                    own.start_soon(self._run_keepalive, self._keepalive)
                try:
                    with self._accept_scope:
                        async with anyio.create_task_group() as acceptors:
                            for listener in self.listeners:
                                acceptors.start_soon(self._accept, listener, group)
                    # Not asked to close the connections (close_connections=False, or
                    # every listener ended by itself): let them end.
                    if self._phase < _Phase.CLOSE_REQUESTED:
                        await self._wait_for_tasks()
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._stop()
                    self._keepalive_scope.cancel()  # every connection is over
        finally:
            self._closed.set()

    async def _run_keepalive(self, keepalive: Keepalive) -> None:
        with self._keepalive_scope:
            await keepalive.run()

    async def _stop(self) -> None:
        """Shut down (shielded by the caller, bounded by ``close_timeout``)."""
        self._phase = max(self._phase, _Phase.DRAINING)
        for listener in self.listeners:
            try:
                await listener.aclose()
            except Exception:  # a caller's listener may fail in any way: go on closing
                self.logger.exception("failed to close a listener")
        for handshake in self._handshakes:
            handshake.cancel()
        # Cancelled from outside, or close(close_connections=False): with 1001.
        await self._close_connections()
        await self._wait_for_tasks()

    async def _wait_for_tasks(self) -> None:
        while self._tasks:
            self._task_gone = anyio.Event()
            await self._task_gone.wait()

    async def _accept(self, listener: anyio.abc.Listener[Any], group: anyio.abc.TaskGroup) -> None:
        if not self._accept_sockets:
            await self._serve_listener(listener, group)
            return
        # On asyncio, accept on the listening socket itself and hand the bare socket to
        # the connection's task, which makes an AsyncioSocketStream of it (TLS handshake
        # included, within open_timeout): see _asyncio_stream for why. Trio: anyio's.
        raw: socket.socket | None = None
        if _running_asyncio():
            raw = listener.extra(SocketAttribute.raw_socket, None)
        while True:
            try:
                accepted: ByteStream | socket.socket
                if raw is None:
                    accepted = await cast(anyio.abc.SocketListener, listener).accept()
                else:
                    accepted = await accept_socket(raw)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return
            except OSError as exc:  # EMFILE and the like: wait a bit rather than spin
                if raw is not None and raw.fileno() < 0:  # the listener was closed
                    return
                self.logger.warning("failed to accept a connection: %s", exc)
                await anyio.sleep(0.1)
                continue
            if not await self._start(group, accepted):
                return

    async def _serve_listener(
        self, listener: anyio.abc.Listener[Any], group: anyio.abc.TaskGroup
    ) -> None:
        """Accept through a caller's ``Listener``: its own ``serve()`` hands out streams.

        With a ``task_group`` of the caller's, each stream goes through a short relay
        task of ours, so that a group that is no longer there closes the server
        rather than break the listener's loop.
        """

        async def relay(stream: ByteStream) -> None:
            await self._start(group, stream)

        while True:
            try:
                if self._task_group is None:
                    await listener.serve(self._serve_connection, group)
                else:
                    await listener.serve(relay)
                return
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
                return
            except OSError as exc:
                self.logger.warning("failed to accept a connection: %s", exc)
                await anyio.sleep(0.1)
            except Exception:
                self.logger.exception("listener failed; no longer accepting from it")
                return

    async def _start(
        self, group: anyio.abc.TaskGroup, accepted: ByteStream | socket.socket
    ) -> bool:
        """Start the connection's task in ``group``; False (server closing) if it is gone."""
        try:
            group.start_soon(self._serve_connection, accepted)
        except RuntimeError:  # the caller's task group has exited
            if isinstance(accepted, socket.socket):
                accepted.close()
            else:
                await abort(accepted)
            self.logger.error("the server's task_group is closed; the server stops")
            self.close()
            return False
        return True

    async def _serve_connection(self, accepted: ByteStream | socket.socket) -> None:
        """One connection's task, in a scope that shutdown cancels when it gives up.

        In our own group the scope is shielded: cancelling the scope around ``serve()``
        then shuts down as leaving it does (1001, ``close_timeout``), not by cutting
        connections. In a caller's group, the caller's cancellation applies as usual.
        """
        with anyio.CancelScope(shield=self._task_group is None) as scope:
            self._tasks.add(scope)
            try:
                await self._handle_stream(self, accepted)
            finally:
                self._tasks.discard(scope)
                self._task_gone.set()

    async def _close_connections(self) -> None:
        """Close every connection, then cancel whatever outlives ``close_timeout``."""
        self._phase = _Phase.CLOSING_CONNECTIONS  # late handshakes: see _connection_opened
        async with anyio.create_task_group() as closers:
            for connection in list(self.connections):
                closers.start_soon(connection.close, self._close_code, "server shutting down")
        with anyio.move_on_after(self.close_timeout):  # None: no limit, as documented
            await self._wait_for_tasks()
        for scope in self._tasks:
            scope.cancel()

    # --------------------------------------- what each connection's task reports

    def _handshake_started(self, scope: anyio.CancelScope) -> None:
        """Track an opening handshake, which shutdown drops; drop it now if closing."""
        self._handshakes.add(scope)
        if self._phase is not _Phase.SERVING:
            scope.cancel()

    def _handshake_ended(self, scope: anyio.CancelScope) -> None:
        self._handshakes.discard(scope)

    def _connection_opened(self, connection: ServerConnection) -> int | None:
        """Count ``connection`` as open; the code to close it with at once, if any.

        A handshake that completes while shutdown closes connections is too late to be
        among those it closes: its connection gets the same code.
        """
        self.connections.add(connection)
        return self._close_code if self._phase is _Phase.CLOSING_CONNECTIONS else None

    def _connection_closed(self, connection: ServerConnection) -> None:
        self.connections.discard(connection)
