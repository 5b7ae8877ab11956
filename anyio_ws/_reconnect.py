"""Reconnecting: ``async for ws in connect(...)``, and when to try again.

The retry policy (``process_exception``, ``backoff``, ``reconnect_delays``) and the
loop that applies it: each step closes the previous connection, then opens the next,
retrying after each retryable failure. A connection of the loop is held either by a
task in the caller's group (``task_group=``) or inline, with no task of its own.
``connect()`` supplies the options and the opening (see ``Connector``); it re-exports
``backoff`` and ``process_exception``, its defaults.
"""

from __future__ import annotations

import os
import random
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from numbers import Real
from typing import Generic, Protocol, TypeVar

import anyio
import anyio.abc

from ._streams import TRANSPORT_ERRORS
from ._task_groups import leave_group, open_in_group
from .connection import Connection
from .exceptions import InvalidMessage, InvalidStatus
from .typing import LoggerLike

__all__ = [
    "RETRYABLE_STATUSES",
    "Connector",
    "Lease",
    "ReconnectDelays",
    "Reconnecting",
    "backoff",
    "check_delays",
    "fresh_delays",
    "hold_connection",
    "process_exception",
]

ReconnectDelays = Sequence[float] | Callable[[], Iterable[float]]
"""Delays between attempts: a sequence, or a function giving a fresh iterable each time."""

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})

ConnectionT = TypeVar("ConnectionT", bound=Connection)
ConnectionT_co = TypeVar("ConnectionT_co", bound=Connection, covariant=True)


class Connector(Protocol[ConnectionT_co]):
    """What the loop needs of ``connect()``: its retry options and a way to open.

    ``_open(task_group)`` opens one connection and starts it in ``task_group``, or
    inline when that is None.
    """

    @property
    def task_group(self) -> anyio.abc.TaskGroup | None: ...
    @property
    def reconnect_delays(self) -> ReconnectDelays: ...
    @property
    def process_exception(self) -> Callable[[Exception], Exception | None]: ...
    @property
    def logger(self) -> LoggerLike: ...
    async def _open(self, task_group: anyio.abc.TaskGroup | None) -> ConnectionT_co: ...


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if value is None else float(value)


def backoff(
    initial_delay: float | None = None,
    min_delay: float | None = None,
    max_delay: float | None = None,
    factor: float | None = None,
) -> Iterator[float]:
    """The default delays between reconnection attempts: exponential back-off.

    First a random delay in ``[0, initial_delay)`` (RFC 6455 7.2.3: clients that lost
    the same server must not all come back at once), then ``min_delay`` multiplied by
    ``factor`` at each attempt up to ``max_delay``, which then repeats for ever. The
    defaults are websockets' (5 s, 3.1 s, 90 s, 1.618) and are read, when this is
    called, from ``ANYIO_WS_BACKOFF_INITIAL_DELAY``, ``ANYIO_WS_BACKOFF_MIN_DELAY``,
    ``ANYIO_WS_BACKOFF_MAX_DELAY`` and ``ANYIO_WS_BACKOFF_FACTOR`` when they are set.
    """
    initial = (
        _env_float("ANYIO_WS_BACKOFF_INITIAL_DELAY", 5.0)
        if initial_delay is None
        else initial_delay
    )
    delay = _env_float("ANYIO_WS_BACKOFF_MIN_DELAY", 3.1) if min_delay is None else min_delay
    top = _env_float("ANYIO_WS_BACKOFF_MAX_DELAY", 90.0) if max_delay is None else max_delay
    growth = _env_float("ANYIO_WS_BACKOFF_FACTOR", 1.618) if factor is None else factor
    yield random.random() * initial
    while delay < top:
        yield delay
        delay *= growth
    while True:
        yield top


def process_exception(exc: Exception) -> Exception | None:
    """Tell whether a failed connection attempt is worth retrying (the default policy).

    Returns ``None`` to retry: network errors (``OSError``, the transport breaking),
    timeouts, a server that closed the connection during the handshake, and the
    server errors 500, 502, 503 and 504. Returns ``exc`` for anything else, which
    ``async for ws in connect(...)`` then raises: a 403 or a bad URI will not get
    better by trying again.
    """
    if isinstance(exc, (TimeoutError, *TRANSPORT_ERRORS)):
        return None
    if isinstance(exc, InvalidMessage) and isinstance(exc.__cause__, EOFError):
        return None
    if isinstance(exc, InvalidStatus) and exc.response.status_code in RETRYABLE_STATUSES:
        return None
    return exc


class Lease:
    """Tells a connection held in a caller's task group when to close, and when it has."""

    def __init__(self) -> None:
        self.released = anyio.Event()
        self.done = anyio.Event()

    def release(self) -> None:
        with suppress(Exception):  # from a finalizer: never raise there
            self.released.set()


class Reconnecting(Generic[ConnectionT]):
    """``async for ws in connect(...)``: one connection after another.

    ``__anext__`` closes the previous connection, then opens the next one, retrying
    with back-off; ``aclose()`` ends it all.

    With ``task_group=``, each connection is held by a task in that group (in a task
    group of its own), which closes it when released: by the next step, by
    ``aclose()``, or when the iterator is dropped after a ``break`` (a finalizer).
    Without, each connection runs inline (``Connection.start_inline``): no task and
    no cancel scope outlives a call, so the loop's body can be left at any point and
    the connection closed from any task (see ``client._connections``).
    """

    def __init__(self, connector: Connector[ConnectionT]) -> None:
        self._connector = connector
        self._lease: Lease | None = None
        self._connection: ConnectionT | None = None
        self._finished = False

    def __aiter__(self) -> Reconnecting[ConnectionT]:
        return self

    async def __anext__(self) -> ConnectionT:
        await self._release()
        if self._finished:
            raise StopAsyncIteration
        delays: Iterator[float] | None = None
        while True:
            try:
                return await self._attempt()
            except Exception as exc:
                if delays is None:
                    delays = iter(fresh_delays(self._connector.reconnect_delays))
                delay = self._retry_delay(exc, delays)
            except BaseException:
                self._finished = True
                raise
            await anyio.sleep(delay)

    async def aclose(self) -> None:
        """Close the current connection, if any; the loop then ends."""
        self._finished = True
        await self._release()

    async def _attempt(self) -> ConnectionT:
        task_group = self._connector.task_group
        if task_group is not None:
            lease = Lease()
            connection: ConnectionT = await task_group.start(
                hold_connection, self._connector, lease
            )
            weakref.finalize(self, lease.release)
            self._lease, self._connection = lease, connection
            return connection
        self._connection = await self._connector._open(None)
        return self._connection

    def _retry_delay(self, exc: Exception, delays: Iterator[float]) -> float:
        """The delay before the next attempt; raises what should end the loop."""
        try:
            decision = self._connector.process_exception(exc)
        except Exception as raised:  # raising instead of returning: a common slip
            decision = raised
        delay = None if decision is not None else next(delays, None)
        if decision is not None or delay is None:
            self._finished = True
            error = decision or exc
            if error is exc:
                raise exc
            raise error from exc
        if not isinstance(delay, Real) or isinstance(delay, bool) or delay < 0:
            self._finished = True
            raise ValueError(f"reconnect_delays gave {delay!r}: not a number >= 0")
        self._connector.logger.info(
            "connect failed; reconnecting in %.1f seconds: %s",
            delay,
            traceback.format_exception_only(type(exc), exc)[-1].strip(),
        )
        return float(delay)

    async def _release(self) -> None:
        lease, connection = self._lease, self._connection
        self._lease = self._connection = None
        if lease is not None:
            lease.release()
            with anyio.CancelScope(shield=True):  # closing is bounded by close_timeout
                await lease.done.wait()
        elif connection is not None:
            await connection.close()


async def hold_connection(
    connector: Connector[ConnectionT],
    lease: Lease,
    *,
    task_status: anyio.abc.TaskStatus[ConnectionT] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Open a connection in a group of its own and keep it until ``lease`` is released.

    A module function, not a method: the task must not keep the iterator alive, or
    its finalizer could never release a connection left behind by ``break``.
    """
    try:
        group = anyio.create_task_group()
        connection = await open_in_group(group, connector._open)
        try:
            task_status.started(connection)
            await lease.released.wait()
        finally:
            await connection.close()
            await leave_group(group)
    finally:
        lease.done.set()


def check_delays(delays: object) -> ReconnectDelays:
    """Raise at the call for ``reconnect_delays`` that cannot work; return them."""
    if callable(delays):
        return delays
    if isinstance(delays, (str, bytes)) or not isinstance(delays, Sequence):
        raise TypeError(
            "reconnect_delays must be a sequence of seconds or a function returning "
            f"an iterable of them, not {delays!r}"
        )
    for delay in delays:
        if not isinstance(delay, Real) or isinstance(delay, bool) or delay < 0:
            raise ValueError(f"reconnect_delays must be numbers >= 0, not {delay!r}")
    return delays


def fresh_delays(delays: ReconnectDelays) -> Iterable[float]:
    """The delays for one round of attempts: a function's are made anew each time."""
    return delays() if callable(delays) else delays
