"""Scale-out over processes: examples/fanout/server.py, three on one port, one Redis bus.

A throwaway ``redis-server`` and three server processes (same backend as the test) run
with ``reuse_port=True`` on one port; 300 reconnecting clients run in the test process
and learn from each server's hello which process they landed on. Every client must
receive every broadcast exactly once, in order per sender; after one server is killed
(SIGKILL), only its own clients lose their connection, and they reconnect to the
others and receive later broadcasts. SIGTERM then closes everyone with 1001.

Throughput and per-hop latency are measured on the way (the server stamps each hop
with ``--timestamps``) and printed: ``pytest -s tests/test_fanout.py``. Needs
``redis-server`` and ``coredis``: skipped without them, a failure instead when
``ANYIO_WS_REQUIRE_SERVICES=1`` (CI sets it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import statistics
import time
from collections import defaultdict
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc
import pytest
from subprocesses import Child, python_process_within, redis_server

import anyio_ws

pytestmark = pytest.mark.slow  # a Redis, server processes, 300 clients: measured alone

PROCESSES = 3
CLIENTS = 300
SENDERS = 20
MESSAGES = 10  # per sender and round
LIFETIME = 60  # seconds a server process may live: a bound, not a timing assertion
WAIT = 20  # seconds for any one step
RECONNECT_DELAYS = [0.05] * 100  # reconnect fast, and give up (fail) after 5 s of errors
LISTENING = re.compile(r"listening on ws://127\.0\.0\.1:(\d+)/ pid (\d+)")


@pytest.fixture(
    params=[pytest.param(("asyncio", {}), id="asyncio"), pytest.param(("trio", {}), id="trio")]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    """Both backends, asyncio without debug mode: it would slow the 300 clients that measure."""
    return request.param  # type: ignore[no-any-return]


def require_services() -> str:
    """The path of ``redis-server``; skip, or fail under CI, when it or coredis is missing."""
    missing = []
    redis = shutil.which("redis-server")
    if redis is None:
        missing.append("redis-server on PATH (apt-get install redis-server)")
    if importlib.util.find_spec("coredis") is None:
        missing.append("coredis (pip install coredis)")
    if missing:
        reason = "needs " + " and ".join(missing)  # "needs ": what conftest's CI check looks for
        if os.environ.get("ANYIO_WS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"ANYIO_WS_REQUIRE_SERVICES=1: {reason}", pytrace=False)
        pytest.skip(reason)
    assert redis is not None
    return redis


@dataclass
class Client:
    """What one client saw: its connections' server PIDs and close codes, and messages."""

    pids: list[int] = field(default_factory=list)
    close_codes: list[int | None] = field(default_factory=list)
    seqs: dict[tuple[int, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    ws: anyio_ws.ClientConnection | None = None


class Fleet:
    """The clients and their counters; ``wait_until`` wakes on each change."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.clients = [Client() for _ in range(CLIENTS)]
        self.hellos = 0
        self.closes = 0
        self.delivered: dict[int, int] = defaultdict(int)  # per round
        self.stamps: dict[int, list[tuple[float, float, float, float]]] = defaultdict(list)
        self.stopping = False
        self._changed = anyio.Event()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_until(self, done: Any, what: str) -> None:
        try:
            with anyio.fail_after(WAIT):
                while not done():
                    await self._changed.wait()
        except TimeoutError:
            pytest.fail(f"not within {WAIT} s: {what}")

    async def run(self, client: Client, task_group: anyio.abc.TaskGroup) -> None:
        """Connect, reconnect after each loss, and record everything received."""
        connections = anyio_ws.connect(
            self.uri, task_group=task_group, reconnect_delays=RECONNECT_DELAYS
        )
        async for ws in connections:
            try:
                async for message in ws:
                    data = json.loads(message)
                    if data.get("type") == "hello":
                        client.pids.append(data["pid"])
                        client.ws = ws
                        self.hellos += 1
                    else:
                        received = time.monotonic()
                        rnd = data["round"]
                        client.seqs[rnd, data["sender"]].append(data["seq"])
                        stamps = data["t_send"], data["t_publish"], data["t_relay"], received
                        self.stamps[rnd].append(stamps)
                        self.delivered[rnd] += 1
                    self._notify()
            except anyio_ws.ConnectionClosed:
                pass
            client.ws = None
            client.close_codes.append(ws.close_code)
            self.closes += 1
            self._notify()
            if self.stopping:
                break

    async def send_round(self, rnd: int, senders: int, messages: int, interval: float) -> None:
        """Each sender sends ``messages`` numbered messages, ``interval`` seconds apart."""

        async def send(sender: int) -> None:
            ws = self.clients[sender * (CLIENTS // SENDERS)].ws
            assert ws is not None
            for seq in range(messages):
                message = {"sender": f"s{sender}", "seq": seq, "round": rnd}
                await ws.send(json.dumps({**message, "t_send": time.monotonic()}))
                await anyio.sleep(interval)  # the senders' pace, not a wait for an outcome

        async with anyio.create_task_group() as tg:
            for sender in range(senders):
                tg.start_soon(send, sender)
        expected = senders * messages * CLIENTS
        await self.wait_until(lambda: self.delivered[rnd] >= expected, f"round {rnd} delivered")

    def check_round(self, rnd: int, senders: int, messages: int) -> None:
        """Every client got every message of the round once, in order per sender."""
        in_order = list(range(messages))
        for index, client in enumerate(self.clients):
            for sender in range(senders):
                assert client.seqs[rnd, f"s{sender}"] == in_order, (index, sender)
        assert self.delivered[rnd] == senders * messages * CLIENTS


def percentiles(values: list[float]) -> str:
    """p50/p99 of seconds, in milliseconds."""
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"{cuts[49] * 1000:.1f}/{cuts[98] * 1000:.1f}"


def report(fleet: Fleet, rnd: int, title: str, paced: bool = False) -> str:
    stamps = fleet.stamps[rnd]
    sent = min(s[0] for s in stamps)
    last = max(s[3] for s in stamps)
    rate = len(stamps) / (last - sent)
    total = percentiles([s[3] - s[0] for s in stamps])
    to_publish = percentiles([s[1] - s[0] for s in stamps])
    redis = percentiles([s[2] - s[1] for s in stamps])
    to_client = percentiles([s[3] - s[2] for s in stamps])
    throughput = "(the pace sets the rate)" if paced else f"= {rate:,.0f} messages/s"
    return (
        f"  {title}: {len(stamps)} deliveries in {last - sent:.2f} s {throughput}\n"
        f"    latency p50/p99 ms: total {total}; client->publish {to_publish}; "
        f"publish->relay (Redis) {redis}; relay->client {to_client}"
    )


async def drain_stderr(child: Child, into: list[str]) -> None:
    """Read a server's stderr as it comes (a full pipe would block it); keep it for errors."""
    try:
        into.append(await child.read_stderr())
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass  # closed as the test ends


async def start_server(
    stack: AsyncExitStack, tg: anyio.abc.TaskGroup, args: list[str], errors: list[str]
) -> tuple[Child, int, int]:
    """Start one server process; its port and PID from the line it prints when listening."""
    child = await stack.enter_async_context(python_process_within(LIFETIME, *args))
    tg.start_soon(drain_stderr, child, errors)
    try:
        with anyio.fail_after(WAIT):
            line = await child.readline()
    except (anyio.IncompleteRead, anyio.EndOfStream):
        await child.wait()
        await anyio.sleep(0.1)  # for drain_stderr to read the rest (a failure report only)
        pytest.fail(f"server exited at start: {errors}")
    match = LISTENING.fullmatch(line)
    assert match, line
    return child, int(match[1]), int(match[2])


async def test_fanout_over_processes(anyio_backend_name: str) -> None:
    redis = require_services()
    errors: list[str] = []
    async with AsyncExitStack() as stack:
        redis_port = await stack.enter_async_context(redis_server(redis))
        # Entered before the servers, so it is left after they are killed (LIFO).
        background = await stack.enter_async_context(anyio.create_task_group())
        redis_url = f"redis://127.0.0.1:{redis_port}"
        args = ["examples/fanout/server.py", "--backend", anyio_backend_name]
        args += ["--redis", redis_url, "--channel", "test", "--timestamps"]
        servers: dict[int, Child] = {}
        port = 0  # the first picks a free port; the others share it
        for _ in range(PROCESSES):
            child, port, pid = await start_server(
                stack, background, [*args, "--port", str(port)], errors
            )
            servers[pid] = child

        fleet = Fleet(f"ws://127.0.0.1:{port}/")
        async with anyio.create_task_group() as tg:
            for client in fleet.clients:
                tg.start_soon(fleet.run, client, tg)
            await fleet.wait_until(lambda: fleet.hellos == CLIENTS, "every client connected")
            spread = {pid: sum(c.pids == [pid] for c in fleet.clients) for pid in servers}
            assert all(spread.values()), spread  # the kernel used every process

            # Round 1: every sender at once, as fast as it can.
            await fleet.send_round(1, SENDERS, MESSAGES, interval=0)
            fleet.check_round(1, SENDERS, MESSAGES)

            # SIGKILL one process: only its clients are cut off, and they come back.
            victim = next(iter(servers))
            lost = [c for c in fleet.clients if c.pids == [victim]]
            kept = [c for c in fleet.clients if c.pids != [victim]]
            killed_at = time.monotonic()
            servers[victim].process.kill()
            with anyio.fail_after(WAIT):
                await servers[victim].wait()
            await fleet.wait_until(
                lambda: fleet.hellos == CLIENTS + len(lost), "lost clients reconnected"
            )
            failover = time.monotonic() - killed_at
            for client in lost:
                assert client.close_codes == [1006]  # the peer vanished: no close frame
                assert len(client.pids) == 2 and client.pids[1] in servers
                assert client.pids[1] != victim
            for client in kept:
                assert client.close_codes == []
                assert len(client.pids) == 1

            # Round 2, the same burst over the surviving processes.
            await fleet.send_round(2, SENDERS, MESSAGES, interval=0)
            fleet.check_round(2, SENDERS, MESSAGES)
            # Round 3, one sender every 50 ms: latency without a queue (once through all).
            await fleet.send_round(3, 1, 20, interval=0.05)
            fleet.check_round(3, 1, 20)
            assert fleet.closes == len(lost)  # still nobody else disconnected

            # SIGTERM the others: every client is closed with 1001 "going away".
            fleet.stopping = True
            survivors = [child for pid, child in servers.items() if pid != victim]
            for child in survivors:
                child.process.terminate()
            await fleet.wait_until(
                lambda: fleet.closes == CLIENTS + len(lost), "every client closed"
            )
            assert all(client.close_codes[-1] == 1001 for client in fleet.clients)
            with anyio.fail_after(WAIT):
                for child in survivors:
                    assert await child.wait() == 0, errors
            tg.cancel_scope.cancel()
        background.cancel_scope.cancel()

    counts = "/".join(str(n) for n in spread.values())
    print(
        f"\nfanout [{anyio_backend_name}]: {PROCESSES} processes on one port, "
        f"{CLIENTS} clients ({counts}), {SENDERS} senders x {MESSAGES} messages per round\n"
        + report(fleet, 1, "round 1, burst")
        + "\n"
        + report(fleet, 2, "round 2, burst, after failover")
        + "\n"
        + report(fleet, 3, "round 3, 1 sender every 50 ms", paced=True)
        + f"\n  SIGKILL of one process: its {len(lost)} clients reconnected within "
        f"{failover:.2f} s; the other {len(kept)} were never disconnected"
    )


async def test_fanout_client_script_and_errors(anyio_backend_name: str) -> None:
    """client.py sends and prints through a server; bad input gets an error, not a relay."""
    redis = require_services()
    errors: list[str] = []
    async with AsyncExitStack() as stack:
        redis_port = await stack.enter_async_context(redis_server(redis))
        background = await stack.enter_async_context(anyio.create_task_group())
        args = ["examples/fanout/server.py", "--backend", anyio_backend_name, "--port", "0"]
        server, port, pid = await start_server(
            stack, background, [*args, "--redis", f"redis://127.0.0.1:{redis_port}"], errors
        )
        uri = f"ws://127.0.0.1:{port}/"
        async with anyio_ws.connect(uri) as ws:
            assert json.loads(await ws.recv()) == {"type": "hello", "pid": pid}
            bad_input: list[tuple[str | bytes, str]] = [
                ("[1]", 'expected {"sender": ..., "seq": ..., ...}'),
                (b"{}", "send JSON as text, not binary"),
                ('{"sender": 1, "seq": 1, "type": "hello"}', '"type" is reserved for the server'),
            ]
            for bad, error in bad_input:
                await ws.send(bad)
                assert json.loads(await ws.recv()) == {"type": "error", "error": error}
            client_args = ["examples/fanout/client.py", "--backend", anyio_backend_name]
            client_args += ["--uri", uri, "--sender", "me", "--send", "3", "--interval", "0"]
            async with python_process_within(WAIT, *client_args, "--exit-after", "3") as client:
                assert await client.wait() == 0, await client.read_stderr()
                output = await client.read_rest()
            lines = [json.loads(line) for line in output.splitlines()]
            assert lines[0] == {"type": "hello", "pid": pid}
            assert [(m["sender"], m["seq"]) for m in lines[1:]] == [("me", 0), ("me", 1), ("me", 2)]
            for seq in range(3):  # relayed to the other clients too, unchanged
                message = json.loads(await ws.recv())
                assert (message["sender"], message["seq"]) == ("me", seq)
                assert "t_publish" not in message  # no --timestamps: no stamps
        server.process.terminate()
        with anyio.fail_after(WAIT):
            assert await server.wait() == 0, errors
        background.cancel_scope.cancel()
