"""The fixed load generator of the server role: raw asyncio protocols on uvloop.

It is not a WebSocket library: it writes frames that were built and masked once,
before the clock starts, and checks every byte of every echo (the exact frame the
server must send back for uncompressed messages; the inflated payload otherwise).
Echo loops run inside ``data_received`` callbacks, so a round trip costs the generator
a few microseconds and the server under test is what the numbers measure.

Against a raw TCP echo server (``--mode raw``) there is no handshake and no framing:
the generator writes the payload bytes and waits for the same bytes back.

Run by the runner as ``python -m bench.generator ...``; prints one result line.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import config, fanout, wsframes
from .procutil import emit_result, rss_bytes, setup_process

CLOSE_1000 = (1000).to_bytes(2, "big")
HANDSHAKE_TIMEOUT = 10.0
CLOSE_TIMEOUT = 2.0


class BenchError(Exception):
    """The server misbehaved (wrong echo, refused handshake, ...)."""


class Message:
    """A message to echo: the bytes to write, and how to recognise a correct echo."""

    def __init__(self, payload: bytes, opcode: int, *, raw: bool, deflate_wbits: int = 0) -> None:
        self.payload = payload
        self.opcode = opcode
        self.raw = raw
        self.compressed = deflate_wbits > 0
        mask = os.urandom(4)
        if raw:
            self.wire = payload
            self.expected = payload
        elif self.compressed:
            body = wsframes.deflate_message(payload, deflate_wbits)
            self.wire = wsframes.frame(opcode, body, mask=mask, rsv1=True)
            self.expected = b""  # compressed echoes differ: inflate and compare
        else:
            self.wire = wsframes.frame(opcode, payload, mask=mask)
            self.expected = wsframes.frame(opcode, payload)


class Conn(asyncio.Protocol):
    """One client connection of the generator."""

    def __init__(self, host: str, port: int, *, raw: bool, deflate: bool) -> None:
        self.raw = raw
        self.deflate_offered = deflate
        self.deflate: wsframes.DeflateParams | None = None
        self.count = 0
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.closed_by_server: asyncio.Future[None] = loop.create_future()
        self._waiter: asyncio.Future[None] | None = None
        self._buffer = bytearray()
        self._parser: wsframes.FrameParser | None = None
        self._message: Message | None = None
        self._loop_until: Callable[[], bool] | None = None
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self._fragment_rsv1 = False
        self._inflater: wsframes.Inflater | None = None
        self._key = base64.b64encode(os.urandom(16))
        self._request = wsframes.client_request(host, port, self._key, deflate=deflate)
        self.error: BaseException | None = None
        self.close_received = False

    # ----------------------------------------------------------- asyncio API

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.raw:
            self.ready.set_result(None)
        else:
            self.transport.write(self._request)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        if not self.closed_by_server.done():
            self.closed_by_server.set_result(None)  # close_received tells whether it did
        gone = BenchError(f"connection lost: {exc!r}")
        for fut in (self.ready, self._waiter):
            if fut is not None and not fut.done():
                fut.set_exception(gone)

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def data_received(self, data: bytes) -> None:
        try:
            if not self.ready.done():
                self._handshake_data(data)
            elif self._parser is not None and self._message is None:
                self._parser.feed(data)
                self._control_frames()
            else:
                self._echo_data(data)
        except BenchError as exc:
            self._fail(exc)

    # -------------------------------------------------------------- handshake

    def _handshake_data(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > 65536:
                raise BenchError("handshake response too large")
            return
        head = bytes(self._buffer[:end])
        rest = bytes(self._buffer[end + 4 :])
        self._buffer.clear()
        status, headers = wsframes.parse_head(head)
        if not status.startswith("HTTP/1.1 101"):
            raise BenchError(f"handshake refused: {status!r}")
        if headers.get("sec-websocket-accept", "").encode() != wsframes.accept_key(self._key):
            raise BenchError("wrong Sec-WebSocket-Accept")
        self.deflate = wsframes.parse_deflate(headers.get("sec-websocket-extensions"))
        if self.deflate is not None:
            if not self.deflate_offered:
                raise BenchError("server enabled permessage-deflate that was not offered")
            self._inflater = wsframes.Inflater(
                self.deflate.server_max_window_bits,
                no_context_takeover=self.deflate.server_no_context_takeover,
            )
        self._parser = wsframes.FrameParser(rest)
        self.ready.set_result(None)
        self._control_frames()

    # ------------------------------------------------------------------ echo

    def echo_once(self, message: Message) -> asyncio.Future[None]:
        """Send ``message`` once; the future completes when its echo is verified."""
        return self.echo_loop(message, lambda: True)

    def echo_loop(self, message: Message, stop: Callable[[], bool]) -> asyncio.Future[None]:
        """Echo ``message`` again and again until ``stop()`` is true after an echo."""
        assert self.transport is not None
        self._message = message
        self._loop_until = stop
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(message.wire)
        return self._waiter

    def _echo_data(self, data: bytes) -> None:
        message = self._message
        if message is None:
            raise BenchError(f"unexpected data: {data[:40]!r}")
        parser = self._parser
        if parser is not None and parser.pending():
            parser.feed(data)
            self._parse_frames()
            return
        buf = self._buffer
        buf += data
        expected = message.expected
        size = len(expected)
        if message.raw:
            while len(buf) >= size:
                if not buf.startswith(expected):
                    raise BenchError("raw echo differs from what was sent")
                del buf[:size]
                if self._echoed():
                    return
            if buf and not expected.startswith(buf):
                raise BenchError("raw echo differs from what was sent")
            return
        if size:  # fast path: the exact frame an uncompressed echo must be
            while len(buf) >= size and buf.startswith(expected):
                del buf[:size]
                if self._echoed():
                    return
            if not buf or (len(buf) < size and expected.startswith(buf)):
                return
        # Anything else is parsed frame by frame: fragments, pings, compressed data.
        assert parser is not None
        parser.feed(bytes(buf))
        buf.clear()
        self._parse_frames()

    def _parse_frames(self) -> None:
        assert self._parser is not None and self._message is not None
        while (f := self._parser.next_frame()) is not None:
            if f.opcode >= 0x8:
                self._control(f)
                continue
            payload = self._whole_message(f)
            if payload is None:
                continue
            if self._fragment_opcode != self._message.opcode or payload != self._message.payload:
                raise BenchError("echo differs from what was sent")
            if self._echoed():
                return  # anything left is parsed once idle (a ping, say)

    def _whole_message(self, f: wsframes.Frame) -> bytes | None:
        """Add a data frame to the message under way; the message, inflated, on its last
        frame (its opcode is ``_fragment_opcode``), else ``None``."""
        if f.opcode != wsframes.OP_CONT:
            if self._fragments:
                raise BenchError("new message inside a fragmented one")
            self._fragment_opcode, self._fragment_rsv1 = f.opcode, f.rsv1
        elif not self._fragments:
            raise BenchError("continuation frame without a message")
        self._fragments.append(f.payload)
        if not f.fin:
            return None
        payload = b"".join(self._fragments)
        self._fragments.clear()
        if self._fragment_rsv1:
            if self._inflater is None:
                raise BenchError("RSV1 set without permessage-deflate")
            payload = self._inflater.inflate(payload)
        return payload

    def _echoed(self) -> bool:
        """Count one verified echo; send the next or finish. True when finished."""
        self.count += 1
        assert self._loop_until is not None and self._message is not None
        if self._loop_until():
            waiter = self._waiter
            self._message = None
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            return True
        assert self.transport is not None
        self.transport.write(self._message.wire)
        return False

    def _control_frames(self) -> None:
        assert self._parser is not None
        while (f := self._parser.next_frame()) is not None:
            if f.opcode < 0x8:
                raise BenchError("data frame while idle")
            self._control(f)

    def _control(self, f: wsframes.Frame) -> None:
        assert self.transport is not None
        if f.opcode == wsframes.OP_PING:
            self.transport.write(wsframes.frame(wsframes.OP_PONG, f.payload, mask=os.urandom(4)))
        elif f.opcode == wsframes.OP_CLOSE:
            self.close_received = True
            if not self.closed_by_server.done():
                self.closed_by_server.set_result(None)
            if self._message is not None:
                raise BenchError("server closed during an echo")

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        for fut in (self.ready, self._waiter):
            if fut is not None and not fut.done():
                fut.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    # ----------------------------------------------------------------- close

    async def close(self, timeout: float = CLOSE_TIMEOUT) -> bool:
        """Close cleanly; True if the server closed the TCP connection in time."""
        assert self.transport is not None
        if self.lost.done():
            return True
        if self.raw:
            self.transport.write_eof()
        else:
            self.transport.write(wsframes.frame(wsframes.OP_CLOSE, CLOSE_1000, mask=os.urandom(4)))
        try:
            await asyncio.wait_for(asyncio.shield(self.lost), timeout)
            return True
        except (asyncio.TimeoutError, BenchError):
            self.transport.abort()
            return False


async def open_conn(host: str, port: int, *, raw: bool, deflate: bool = False) -> Conn:
    """Connect and finish the opening handshake (nothing to do for raw TCP)."""
    loop = asyncio.get_running_loop()
    _, conn = await asyncio.wait_for(
        loop.create_connection(lambda: Conn(host, port, raw=raw, deflate=deflate), host, port),
        HANDSHAKE_TIMEOUT,
    )
    await asyncio.wait_for(asyncio.shield(conn.ready), HANDSHAKE_TIMEOUT)
    return conn


async def close_all(conns: Sequence[Conn]) -> None:
    await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)


class Window:
    """Warm-up, then a measuring window; readings of a counter at both ends."""

    def __init__(self, settings: config.Settings, drain: float = 10.0) -> None:
        self.settings = settings
        self.stopping = False
        self.drain = drain
        """Seconds the loops get to finish what they started once the window is over."""

    async def measure(self, total: Callable[[], int], waiters: list[asyncio.Future[None]]) -> float:
        """Return units per second of ``total()`` over the window; then stop the loops."""
        await _sleep_or_fail(self.settings.warmup, waiters)
        t0, n0 = time.perf_counter(), total()
        await _sleep_or_fail(self.settings.window, waiters)
        t1, n1 = time.perf_counter(), total()
        self.stopping = True
        await asyncio.wait_for(asyncio.gather(*waiters), self.drain)
        return (n1 - n0) / (t1 - t0)


async def _sleep_or_fail(seconds: float, waiters: list[asyncio.Future[None]]) -> None:
    """Sleep, but raise at once if a connection failed meanwhile."""
    done, _ = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_EXCEPTION)
    for fut in done:
        fut.result()


# ------------------------------------------------------------------ workloads


def check_nofile(n_conns: int) -> None:
    """Fail with a clear message when ``n_conns`` connections cannot fit the fd limit."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and n_conns + 64 > soft:
        raise BenchError(
            f"{n_conns} connections need more open files than RLIMIT_NOFILE allows ({soft}); "
            "raise the hard limit (ulimit -Hn)"
        )


async def echo_workload(
    host: str,
    port: int,
    raw: bool,
    settings: config.Settings,
    n_conns: int,
    message: Message,
    *,
    deflate: bool = False,
) -> tuple[float, dict[str, Any]]:
    """Sequential echoes on ``n_conns`` connections; round trips per second."""
    check_nofile(n_conns)
    sem = asyncio.Semaphore(settings.open_concurrency)

    async def opened() -> Conn:
        async with sem:
            return await open_conn(host, port, raw=raw, deflate=deflate)

    conns = await asyncio.gather(*(opened() for _ in range(n_conns)))
    try:
        if deflate and any(c.deflate is None for c in conns):
            raise BenchError("server did not negotiate permessage-deflate")
        return await echo_on(conns, message, settings)
    finally:
        await close_all(conns)


async def echo_on(
    conns: list[Conn], message: Message, settings: config.Settings
) -> tuple[float, dict[str, Any]]:
    """Sequential echoes on every one of ``conns`` at once; round trips per second."""
    window = Window(settings)
    start = sum(c.count for c in conns)
    waiters = [c.echo_loop(message, lambda: window.stopping) for c in conns]
    rate = await window.measure(lambda: sum(c.count for c in conns), waiters)
    return rate, {"messages": sum(c.count for c in conns) - start}


async def handshake_workload(
    host: str, port: int, raw: bool, settings: config.Settings
) -> tuple[float, dict[str, Any]]:
    """Sequential open + clean close; connections per second."""
    window = Window(settings)
    done = 0
    no_close_frame = 0
    no_tcp_close = 0

    async def cycle_forever() -> None:
        nonlocal done, no_close_frame, no_tcp_close
        deadline = time.monotonic() + settings.warmup + settings.window + 30
        while not window.stopping and time.monotonic() < deadline:
            conn = await open_conn(host, port, raw=raw)
            if not raw:
                conn.transport.write(  # type: ignore[union-attr]
                    wsframes.frame(wsframes.OP_CLOSE, CLOSE_1000, mask=os.urandom(4))
                )
                await asyncio.wait_for(asyncio.shield(conn.closed_by_server), CLOSE_TIMEOUT)
                if not conn.close_received:
                    no_close_frame += 1
                try:
                    await asyncio.wait_for(asyncio.shield(conn.lost), CLOSE_TIMEOUT)
                except asyncio.TimeoutError:
                    no_tcp_close += 1
                    conn.transport.abort()  # type: ignore[union-attr]
            elif not await conn.close():
                no_tcp_close += 1
            done += 1

    task = asyncio.ensure_future(cycle_forever())
    rate = await window.measure(lambda: done, [task])
    return rate, {
        "connections": done,
        "anomaly: server closed TCP without a close frame": no_close_frame,
        "anomaly: server did not close TCP within 2 s": no_tcp_close,
    }


async def memory_workload(
    host: str, port: int, raw: bool, settings: config.Settings, server_pid: int
) -> tuple[float, dict[str, Any]]:
    """Server RSS growth per idle connection, in KiB."""
    conns, value, extra = await open_idle(host, port, raw, settings, server_pid)
    await close_all(conns)
    return value, extra


async def open_idle(
    host: str, port: int, raw: bool, settings: config.Settings, server_pid: int
) -> tuple[list[Conn], float, dict[str, Any]]:
    """Open ``idle_connections`` connections, one echo each; the server's RSS growth per
    connection in KiB. The connections stay open: the caller closes them.
    """
    message = Message(config.SMALL_TEXT.encode(), wsframes.OP_TEXT, raw=raw)
    sem = asyncio.Semaphore(settings.open_concurrency)

    async def open_and_echo() -> Conn:
        async with sem:
            conn = await open_conn(host, port, raw=raw)
            await asyncio.wait_for(conn.echo_once(message), HANDSHAKE_TIMEOUT)
            return conn

    async def open_many(n: int) -> list[Conn]:
        """``n`` connections, or an error that says how many failed (the rest closed)."""
        opened = await asyncio.gather(*(open_and_echo() for _ in range(n)), return_exceptions=True)
        conns = [c for c in opened if isinstance(c, Conn)]
        failed = [e for e in opened if not isinstance(e, Conn)]
        if failed:
            await close_all(conns)
            raise BenchError(f"{len(failed)} of {n} connections failed to open: {failed[0]!r}")
        return conns

    # Warm up the server's code paths and allocator, then take the baseline.
    await close_all(await open_many(settings.open_concurrency))
    await asyncio.sleep(settings.settle)
    before = rss_bytes(server_pid)
    n = settings.idle_connections
    conns = await open_many(n)
    await asyncio.sleep(settings.settle)
    after = rss_bytes(server_pid)
    return (
        conns,
        (after - before) / n / 1024,
        {"rss_before_mib": before / 2**20, "rss_after_mib": after / 2**20},
    )


# ------------------------------------------------------------------ cost curve


async def curve_workload(
    host: str, port: int, raw: bool, settings: config.Settings, server_pid: int, timeout: float
) -> dict[str, Any]:
    """The echo server's part of one column of the cost curve, ``idle_connections`` = N.

    (i) ``memory``: open N connections as (e) does, RSS growth per connection;
    (ii) ``handshake``: (d) while the N connections stay open;
    (iii) ``echo``: sequential 16 B echoes on all N connections at once.
    Each measure fails on its own (with its error) within what is left of ``timeout``;
    if the N connections cannot be opened, all three fail with that reason.
    """
    deadline = time.monotonic() + timeout
    n = settings.idle_connections
    keys = ("memory", "handshake", "echo")

    def left() -> float:
        return max(deadline - time.monotonic(), 0.1)

    def failed(exc: BaseException) -> dict[str, Any]:
        if isinstance(exc, asyncio.TimeoutError):
            return {"error": f"timed out: the cell's {timeout:.0f} s for N={n} ran out"}
        return {"error": f"{type(exc).__name__}: {exc}"}

    results: dict[str, Any] = {}
    try:
        check_nofile(n)
        conns, value, extra = await asyncio.wait_for(
            open_idle(host, port, raw, settings, server_pid), left()
        )
        results["memory"] = {"value": value, **extra}
    except Exception as exc:
        error = failed(exc)
        error["error"] = f"opening {n} connections: {error['error']}"
        return dict.fromkeys(keys, error)
    message = Message(config.SMALL_TEXT.encode(), wsframes.OP_TEXT, raw=raw)
    try:
        for key in keys[1:]:
            try:
                if key == "handshake":
                    measure = handshake_workload(host, port, raw, settings)
                else:
                    measure = echo_on(conns, message, settings)
                value, extra = await asyncio.wait_for(measure, left())
                results[key] = {"value": value, **extra}
            except Exception as exc:
                results[key] = failed(exc)
            lost = sum(c.error is not None or c.lost.done() for c in conns)
            if lost:
                raise BenchError(f"{lost} of the {n} open connections were lost during {key}")
    except BenchError as exc:
        for key in keys:
            results.setdefault(key, {"error": str(exc)})
    finally:
        await close_all(conns)
    return results


# -------------------------------------------------- (f), (fz) and (fzs) fan-out

ROUND_TIMEOUT = 8.0
"""Seconds for every client to receive a whole round (below Window's final 10 s), for up to
1,000 clients; more clients get proportionally more (``round_timeout()``)."""


def round_timeout(clients: int) -> float:
    """A round is ``clients`` times as many messages: 8 s per 1,000 clients, at least 8 s."""
    return ROUND_TIMEOUT * max(1.0, clients / 1000)


class Rounds:
    """The generator's side of the round protocol: what every client expects now."""

    def __init__(self, size: int, compressed: bool) -> None:
        self.size = size
        self.compressed = compressed
        self.start = 0
        self.payloads: list[bytes] = []
        self.stream = b""
        """The round's frames back to back: what an uncompressed client receives."""
        self.pending = 0
        self.completed = 0
        self.future: asyncio.Future[None] | None = None
        self.error: BaseException | None = None

    def begin(self, conns: list[FanoutConn]) -> asyncio.Future[None]:
        """Expect the next ``size`` messages on every connection."""
        self.start += len(self.payloads)
        seqs = range(self.start, self.start + self.size)
        self.payloads = [fanout.message(seq).encode() for seq in seqs]
        self.stream = b"".join(fanout.frame(seq) for seq in seqs)
        for conn in conns:
            conn.new_round()
        self.pending = len(conns)
        self.future = asyncio.get_running_loop().create_future()
        if self.error is not None:
            self.future.set_exception(self.error)
        return self.future

    def client_done(self) -> None:
        self.pending -= 1
        if self.pending == 0 and self.future is not None and not self.future.done():
            self.future.set_result(None)

    def fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        if self.future is not None and not self.future.done():
            self.future.set_exception(exc)


class FanoutConn(Conn):
    """A client of (f)/(fz)/(fzs): checks that it receives every message of every round, in
    order.

    Uncompressed, the fast path compares the bytes received with the round's frames
    back to back (``Rounds.stream``); anything else (a ping, a fragment, compression, an
    error) goes frame by frame through the parser, from the last whole frame on.
    Compressed, it also counts the payload bytes of the data frames it receives: the
    wire cost of a message after compression (``payload_bytes``).
    """

    def __init__(self, host: str, port: int, *, raw: bool, deflate: bool, rounds: Rounds) -> None:
        super().__init__(host, port, raw=raw, deflate=deflate)
        self.rounds = rounds
        if raw:
            self._parser = wsframes.FrameParser()  # the raw baselines write frames too
        self.base = 0
        """Messages verified in the rounds before this one."""
        self.offset = 0
        """Fast path: bytes of ``rounds.stream`` received so far."""
        self.index = 0
        """Slow path: messages of this round received so far."""
        self.slow = deflate
        self.finished = False
        """Set before closing: from then on, nothing received is checked."""
        self.payload_bytes = 0
        """Compressed rounds: payload bytes of the data frames received (headers excluded)."""

    def new_round(self) -> None:
        self.base = self.verified()
        self.offset = self.index = 0

    def verified(self) -> int:
        """Messages verified so far, over all rounds."""
        return self.base + (self.index if self.slow else self.offset // fanout.FRAME_SIZE)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self.finished:
            self.rounds.fail(BenchError(f"connection lost during the run: {exc!r}"))

    def data_received(self, data: bytes) -> None:
        if not self.ready.done():
            super().data_received(data)  # the handshake; a data frame before a round fails
            return
        if self.finished:
            if self._parser is not None:  # only the closing frame matters now
                self._parser.feed(data)
                while (f := self._parser.next_frame()) is not None:
                    self.close_received |= f.opcode == wsframes.OP_CLOSE
            return
        try:
            self._received(data)
        except BenchError as exc:
            self._fail(exc)
            self.rounds.fail(exc)

    def _received(self, data: bytes) -> None:
        rounds = self.rounds
        if not self.slow:
            stream, offset = rounds.stream, self.offset
            if stream.startswith(data, offset):
                offset += len(data)
                self.offset = offset
                if offset == len(stream):
                    rounds.client_done()
                return
            # Parse from the last whole frame received (already checked) on.
            cut = offset - offset % fanout.FRAME_SIZE
            self.index = cut // fanout.FRAME_SIZE
            self.slow = True
            data = stream[cut:offset] + data
        parser = self._parser
        assert parser is not None
        parser.feed(data)
        self._check_frames(parser)
        if not rounds.compressed and not parser.pending() and not self._fragments:
            self.slow = False
            self.offset = self.index * fanout.FRAME_SIZE

    def _check_frames(self, parser: wsframes.FrameParser) -> None:
        rounds = self.rounds
        while (f := parser.next_frame()) is not None:
            if f.opcode >= 0x8:
                if f.opcode == wsframes.OP_PING:
                    pong = wsframes.frame(wsframes.OP_PONG, f.payload, mask=os.urandom(4))
                    self.transport.write(pong)  # type: ignore[union-attr]
                elif f.opcode == wsframes.OP_CLOSE:
                    self.close_received = True
                    raise BenchError("server closed the connection during the run")
                continue
            if rounds.compressed:
                self.payload_bytes += len(f.payload)
            payload = self._whole_message(f)
            if payload is None:
                continue
            if self._fragment_opcode != wsframes.OP_TEXT:
                raise BenchError(f"expected a text message, got opcode {self._fragment_opcode}")
            i = self.index
            if i >= len(rounds.payloads):
                raise BenchError(
                    f"message with seq {fanout.seq_of(payload)} after the whole round "
                    f"{rounds.start}..{rounds.start + len(rounds.payloads) - 1} (duplicate or "
                    "unasked)"
                )
            if payload != rounds.payloads[i]:
                got = fanout.seq_of(payload)
                raise BenchError(
                    f"expected seq {rounds.start + i}, got "
                    + (f"seq {got}" if got is not None else f"{payload[:24]!r}")
                )
            self.index = i + 1
            if i + 1 == len(rounds.payloads):
                rounds.client_done()


async def drive_rounds(
    conns: list[FanoutConn], rounds: Rounds, raw: bool, stop: Callable[[], bool]
) -> None:
    """Ask for a round on the first connection, wait for every client to have it; repeat."""
    control = conns[0].transport
    assert control is not None
    timeout = round_timeout(len(conns))
    while True:
        done = rounds.begin(conns)
        text = fanout.request(rounds.start, rounds.size, len(conns)).encode()
        if raw:
            control.write(text + b"\n")
        else:
            control.write(wsframes.frame(wsframes.OP_TEXT, text, mask=os.urandom(4)))
        try:
            await asyncio.wait_for(done, timeout)
        except asyncio.TimeoutError:
            behind = [c for c in conns if c.verified() - c.base < rounds.size]
            worst = min(c.verified() - c.base for c in behind) if behind else 0
            raise BenchError(
                f"round {rounds.start}..{rounds.start + rounds.size - 1}: {len(behind)} of "
                f"{len(conns)} clients lack messages after {timeout:.0f} s (one got only "
                f"{worst} of {rounds.size})"
            ) from None
        rounds.completed += 1
        if stop():
            return


async def fanout_workload(
    host: str, port: int, raw: bool, settings: config.Settings, *, deflate: bool
) -> tuple[float, dict[str, Any]]:
    """Broadcast rounds to ``fanout_connections`` clients; delivered messages per second."""
    rounds = Rounds(settings.fanout_round, compressed=deflate)
    sem = asyncio.Semaphore(settings.open_concurrency)
    loop = asyncio.get_running_loop()

    async def opened() -> FanoutConn:
        async with sem:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: FanoutConn(host, port, raw=raw, deflate=deflate, rounds=rounds),
                    host,
                    port,
                ),
                HANDSHAKE_TIMEOUT,
            )
            await asyncio.wait_for(asyncio.shield(conn.ready), HANDSHAKE_TIMEOUT)
            return conn

    check_nofile(settings.fanout_connections)
    results = await asyncio.gather(
        *(opened() for _ in range(settings.fanout_connections)), return_exceptions=True
    )
    conns = [c for c in results if isinstance(c, FanoutConn)]
    try:
        failed = [r for r in results if not isinstance(r, FanoutConn)]
        if failed:
            raise BenchError(
                f"{len(failed)} of {len(results)} connections failed to open: {failed[0]!r}"
            )
        if deflate and any(c.deflate is None for c in conns):
            raise BenchError("server did not negotiate permessage-deflate")
        window = Window(settings, drain=max(10.0, round_timeout(len(conns)) + 2))
        task = asyncio.ensure_future(drive_rounds(conns, rounds, raw, lambda: window.stopping))
        try:
            rate = await window.measure(lambda: sum(c.verified() for c in conns), [task])
        finally:
            task.cancel()
        delivered = sum(c.verified() for c in conns)
        if delivered != len(conns) * rounds.size * rounds.completed:  # the counts agree
            raise BenchError(f"{delivered} messages delivered in {rounds.completed} rounds")
        extra: dict[str, Any] = {}
        if deflate and delivered:  # every round is whole: bytes and messages match
            extra["payload_bytes_per_message"] = sum(c.payload_bytes for c in conns) / delivered
            params = conns[0].deflate
            assert params is not None
            extra["server_no_context_takeover"] = params.server_no_context_takeover
            extra["server_max_window_bits"] = params.server_max_window_bits
    finally:
        for conn in conns:
            conn.finished = True
        await close_all(conns)
    return rate, {
        "messages": delivered,
        "clients": len(conns),
        "round_size": rounds.size,
        "rounds": rounds.completed,
        "nofile_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        **extra,
    }


async def run_workload(
    key: str, host: str, port: int, raw: bool, settings: config.Settings, server_pid: int
) -> tuple[float, dict[str, Any]]:
    if key in ("a", "b", "b1k"):
        message = Message(config.SMALL_TEXT.encode(), wsframes.OP_TEXT, raw=raw)
        n = {"a": 1, "b": settings.connections, "b1k": settings.many_connections}[key]
        rate, extra = await echo_workload(host, port, raw, settings, n, message)
        if key == "b1k":
            extra["connections"] = n
            extra["nofile_limit"] = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return rate, extra
    if key == "c":
        message = Message(wsframes.binary_payload(config.LARGE), wsframes.OP_BINARY, raw=raw)
        rate, extra = await echo_workload(host, port, raw, settings, 1, message)
        return rate * config.LARGE / 1e6, extra
    if key == "cz":
        payload = wsframes.json_like_payload(config.LARGE)
        message = Message(payload, wsframes.OP_BINARY, raw=raw, deflate_wbits=0 if raw else 15)
        rate, extra = await echo_workload(host, port, raw, settings, 1, message, deflate=not raw)
        return rate * config.LARGE / 1e6, extra
    if key == "d":
        return await handshake_workload(host, port, raw, settings)
    if key == "e":
        return await memory_workload(host, port, raw, settings, server_pid)
    if key in config.FANOUT_WORKLOADS:
        deflate = config.WORKLOADS[key].compression and not raw
        return await fanout_workload(host, port, raw, settings, deflate=deflate)
    raise ValueError(f"unknown workload {key!r}")


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    settings = config.Settings.from_json(args.settings)
    results: dict[str, Any] = {}
    for key in args.workloads.split(","):
        if key == "curve":
            results.update(
                await curve_workload(
                    args.host,
                    args.port,
                    args.mode == "raw",
                    settings,
                    args.server_pid,
                    args.timeout,
                )
            )
            continue
        try:
            value, extra = await asyncio.wait_for(
                run_workload(
                    key, args.host, args.port, args.mode == "raw", settings, args.server_pid
                ),
                args.timeout,
            )
            results[key] = {"value": value, **extra}
        except Exception as exc:  # one failed cell must not hide the others
            results[key] = {"error": f"{type(exc).__name__}: {exc}"}
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=config.HOST)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["ws", "raw"], default="ws")
    parser.add_argument("--workloads", required=True)
    parser.add_argument("--settings", default=config.FULL.to_json())
    parser.add_argument("--server-pid", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0, help="per workload")
    parser.add_argument("--cpu", type=int, default=config.GENERATOR_CPU)
    args = parser.parse_args(argv)
    setup_process(args.cpu)
    import uvloop

    emit_result(uvloop.run(amain(args)))


if __name__ == "__main__":
    main()
