"""Workloads, run settings, and the names of the implementations."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

HOST = "127.0.0.1"
GENERATOR_CPU = 0
MEASURED_CPU = 1

SMALL = 16
LARGE = 2**20
MAX_SIZE = 16 * 2**20
"""``max_size`` given to every library: well above the 1 MiB workload."""

SMALL_TEXT = "0123456789abcdef"
assert len(SMALL_TEXT.encode()) == SMALL


@dataclass(frozen=True)
class Workload:
    """One benchmark workload, as shown in the tables."""

    key: str
    title: str
    unit: str
    higher_is_better: bool = True
    compression: bool = False
    shared_compression: bool = False
    """Compress each broadcast message once for every alike connection, where the
    library can (anyio_ws's ``serve(shared_compression=True)``); n/a elsewhere."""


WORKLOADS: dict[str, Workload] = {
    w.key: w
    for w in (
        Workload("a", "(a) 1 connection, sequential 16 B text echo", "round trips/s"),
        Workload("b", "(b) 64 connections, sequential 16 B text echo each", "round trips/s"),
        Workload("b1k", "(b1k) 1,000 connections, sequential 16 B text echo each", "round trips/s"),
        Workload("c", "(c) 1 connection, 1 MiB binary echo", "MB/s"),
        Workload("d", "(d) sequential opening handshake + clean close", "connections/s"),
        Workload("e", "(e) idle connections after one echo each", "KiB/connection", False),
        Workload(
            "cz",
            "(c) with compression: 1 connection, 1 MiB JSON-like binary echo, permessage-deflate",
            "MB/s",
            compression=True,
        ),
        Workload(
            "f",
            "(f) broadcast fan-out: 64 B text messages, each to every connection, in rounds",
            "delivered messages/s",
        ),
        Workload(
            "fz",
            "(f) with compression: broadcast fan-out, permessage-deflate",
            "delivered messages/s",
            compression=True,
        ),
        Workload(
            "fzs",
            "(f) with shared compression: permessage-deflate, each message compressed once for all",
            "delivered messages/s",
            compression=True,
            shared_compression=True,
        ),
    )
}
DEFAULT_WORKLOADS = ["a", "b", "c", "d", "e", "cz"]
FANOUT_WORKLOADS = ("f", "fz", "fzs")
"""Broadcast fan-out, each in a fresh broadcast server (``serve_fanout()``)."""
SERVER_ONLY_WORKLOADS = (*FANOUT_WORKLOADS, "b1k")
"""The client role skips these: broadcasting is what a server does, and (b1k) asks how a
server copes with many connections."""


@dataclass(frozen=True)
class Settings:
    """How long and how often each cell is measured."""

    reps: int = 3
    warmup: float = 0.4
    window: float = 1.0
    connections: int = 64
    many_connections: int = 1000
    """(b1k): the echo of (b) on this many connections (also with ``--quick``)."""
    idle_connections: int = 1000
    open_concurrency: int = 50
    settle: float = 0.5
    """(e): seconds between the last connection opened (or closed) and an RSS reading."""
    fanout_connections: int = 1000
    """(f), (fz), (fzs): clients that receive every broadcast message."""
    fanout_round: int = 32
    """(f), (fz), (fzs): messages per round. A round is 32 frames of 66 bytes (~2 KiB) per
    client, far below every library's write buffer limit (32 KiB in websockets)."""
    uvloop: bool = False
    """Run the measured asyncio implementations on uvloop instead of asyncio's loop."""
    curve_sizes: tuple[int, ...] = (100, 1000, 10000)
    """The cost curve's columns: numbers of connections."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Settings:
        fields = json.loads(text)
        if "curve_sizes" in fields:  # JSON has lists
            fields["curve_sizes"] = tuple(fields["curve_sizes"])
        return cls(**fields)


FULL = Settings()
QUICK = Settings(
    reps=1, warmup=0.2, window=0.4, idle_connections=200, settle=0.3, fanout_connections=200
)


# ------------------------------------------------------------------ cost curve

CURVE = "curve"
"""The workload key that asks for the cost curve (not a column of the main tables)."""


@dataclass(frozen=True)
class Measure:
    """One table of the cost curve: a value per implementation and number of connections."""

    key: str
    title: str
    unit: str
    higher_is_better: bool
    cost: str
    """What grows when the measure gets worse, for the growth check (``report``)."""


CURVE_MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure(
            "memory",
            "(i) idle memory per connection, as (e) measures it",
            "KiB of RSS/connection",
            False,
            "memory per connection",
        ),
        Measure(
            "handshake",
            "(ii) sequential handshake + close, with N idle connections open",
            "connections/s",
            True,
            "time per handshake",
        ),
        Measure(
            "echo",
            "(iii) N connections, sequential 16 B text echo each",
            "round trips/s",
            True,
            "time per round trip",
        ),
        Measure(
            "fanout",
            "(iv) broadcast fan-out (f) to N clients",
            "delivered messages/s",
            True,
            "time per delivered message",
        ),
    )
}
CURVE_IMPLEMENTATIONS = (
    "anyio_ws-asyncio",
    "anyio_ws-trio",
    "websockets-asyncio",
    "websockets-trio",
    "raw-anyio-asyncio",
    "raw-anyio-trio",
    "harness-echo",
)
"""The curve's rows unless ``--only`` names others. harness-echo is the ceiling: its own
growth is what the generator and the kernel add as N grows."""
CURVE_GROWTH_LIMIT = 1.5
"""A cost that grows more than this from the second-largest to the largest N is noted."""


def curve_settings(settings: Settings, n: int) -> Settings:
    """The settings of the curve's cells at ``n`` connections.

    Beyond 2,000 connections the warm-up and the window grow with ``n`` (5 times as long
    at 10,000), so that a window still spans several fan-out rounds and echo waves.
    """
    scale = max(1.0, n / 2000)
    return dataclasses.replace(
        settings,
        idle_connections=n,
        fanout_connections=n,
        warmup=settings.warmup * scale,
        window=settings.window * scale,
    )


def curve_timeout(cell: Settings, n: int) -> float:
    """The bound of one curve cell at ``n`` connections, in seconds.

    A minute, plus 10 ms per connection to open them (the slowest library here opens
    well over 200 per second), plus every warm-up and window it runs.
    """
    return 60 + n / 100 + 3 * (cell.warmup + cell.window) + 2 * cell.settle
