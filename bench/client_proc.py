"""One client under test, in its own process: ``python -m bench.client_proc``.

Runs the client-role workloads with one implementation against the fixed echo server,
on the implementation's own loop, and prints one result line. The workload code is the
same for every library: open connections with ``impl.connect()``, then ``send()`` a
message and ``recv()`` its echo, which must equal what was sent.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from . import config, wsframes
from .adapters import Implementation, load
from .backends import run_on
from .procutil import emit_result, rss_bytes, settle_memory, setup_process

MAX_MESSAGES = 10**9
"""Upper bound on any echo loop, besides its time window."""


class BenchError(Exception):
    """The echo was wrong, or the workload could not run."""


def first_error(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (task groups wrap worker failures)."""
    while getattr(exc, "exceptions", None):  # (Base)ExceptionGroup, also its 3.10 backport
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return exc


class Window:
    """Warm-up, then a measuring window over a counter."""

    def __init__(self, settings: config.Settings) -> None:
        self.settings = settings
        self.stopping = False

    async def measure(self, total: Callable[[], int]) -> float:
        await anyio.sleep(self.settings.warmup)
        t0, n0 = time.perf_counter(), total()
        await anyio.sleep(self.settings.window)
        t1, n1 = time.perf_counter(), total()
        self.stopping = True
        return (n1 - n0) / (t1 - t0)


async def echo_workload(
    impl: Implementation,
    host: str,
    port: int,
    settings: config.Settings,
    n_conns: int,
    message: str | bytes,
    compression: bool = False,
) -> tuple[float, dict[str, Any]]:
    """Sequential echoes on ``n_conns`` connections; round trips per second."""
    counts = [0] * n_conns
    window = Window(settings)
    all_open = anyio.Event()
    go = anyio.Event()
    opening = anyio.Semaphore(settings.open_concurrency)
    opened = 0
    rate = 0.0

    async def worker(i: int) -> None:
        nonlocal opened
        async with opening:
            conn_cm = impl.connect(host, port, compression=compression)
            ws = await conn_cm.__aenter__()
        try:
            opened += 1
            if opened == n_conns:
                all_open.set()
            await go.wait()
            while not window.stopping and counts[i] < MAX_MESSAGES:
                await ws.send(message)
                if await ws.recv() != message:
                    raise BenchError("echo differs from what was sent")
                counts[i] += 1
        finally:
            await conn_cm.__aexit__(None, None, None)

    async with anyio.create_task_group() as tg:
        for i in range(n_conns):
            tg.start_soon(worker, i)
        with anyio.fail_after(60):
            await all_open.wait()
        go.set()
        rate = await window.measure(lambda: sum(counts))
    return rate, {"messages": sum(counts)}


async def handshake_workload(
    impl: Implementation, host: str, port: int, settings: config.Settings
) -> tuple[float, dict[str, Any]]:
    """Sequential connect + clean close; connections per second."""
    window = Window(settings)
    done = 0
    rate = 0.0

    async def cycle() -> None:
        nonlocal done
        while not window.stopping and done < MAX_MESSAGES:
            async with impl.connect(host, port, compression=False):
                pass
            done += 1

    async with anyio.create_task_group() as tg:
        tg.start_soon(cycle)
        rate = await window.measure(lambda: done)
    return rate, {"connections": done}


async def memory_workload(
    impl: Implementation, host: str, port: int, settings: config.Settings
) -> tuple[float, dict[str, Any]]:
    """This process's RSS growth per idle connection (after one echo each), in KiB."""
    message = config.SMALL_TEXT
    opening = anyio.Semaphore(settings.open_concurrency)

    async def hold_open(n: int, while_open: Callable[[], Awaitable[None]]) -> None:
        """Open ``n`` connections (one task each), echo once, run ``while_open``, close."""
        release = anyio.Event()
        all_open = anyio.Event()
        opened = 0

        async def hold() -> None:
            nonlocal opened
            async with opening:
                conn_cm = impl.connect(host, port, compression=False)
                ws = await conn_cm.__aenter__()
            try:
                await ws.send(message)
                if await ws.recv() != message:
                    raise BenchError("echo differs from what was sent")
                opened += 1
                if opened == n:
                    all_open.set()
                await release.wait()
            finally:
                await conn_cm.__aexit__(None, None, None)

        async with anyio.create_task_group() as tg:
            for _ in range(n):
                tg.start_soon(hold)
            with anyio.fail_after(120):
                await all_open.wait()
            await while_open()
            release.set()

    async def nothing() -> None:
        pass

    readings: list[int] = []

    async def read_rss() -> None:
        await anyio.sleep(settings.settle)
        settle_memory()
        readings.append(rss_bytes())

    # Warm-up: the same steps on a few connections, closed before the baseline.
    await hold_open(settings.open_concurrency, nothing)
    await anyio.sleep(settings.settle)
    settle_memory()
    before = rss_bytes()
    n = settings.idle_connections
    await hold_open(n, read_rss)
    after = readings[0]
    value = (after - before) / n / 1024
    return value, {"rss_before_mib": before / 2**20, "rss_after_mib": after / 2**20}


async def run_workload(
    key: str, impl: Implementation, host: str, port: int, settings: config.Settings
) -> tuple[float, dict[str, Any]]:
    if key in ("a", "b"):
        n = 1 if key == "a" else settings.connections
        return await echo_workload(impl, host, port, settings, n, config.SMALL_TEXT)
    if key in ("c", "cz"):
        if key == "c":
            payload = wsframes.binary_payload(config.LARGE)
        else:
            payload = wsframes.json_like_payload(config.LARGE)
        compression = key == "cz" and not impl.raw
        rate, extra = await echo_workload(impl, host, port, settings, 1, payload, compression)
        return rate * config.LARGE / 1e6, extra
    if key == "d":
        return await handshake_workload(impl, host, port, settings)
    if key == "e":
        return await memory_workload(impl, host, port, settings)
    raise ValueError(f"unknown workload {key!r}")


def run_all(
    impl: Implementation,
    host: str,
    port: int,
    workloads: list[str],
    settings: config.Settings,
    timeout: float,
) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def amain() -> dict[str, Any]:
        results: dict[str, Any] = {}
        async with impl.client_scope():
            for key in workloads:
                try:
                    with anyio.fail_after(timeout):
                        value, extra = await run_workload(key, impl, host, port, settings)
                    results[key] = {"value": value, **extra}
                except Exception as exc:  # one failed cell must not hide the others
                    err = first_error(exc)
                    results[key] = {"error": f"{type(err).__name__}: {err}"}
        return results

    return amain


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", required=True)
    parser.add_argument("--host", default=config.HOST)
    parser.add_argument("--port", type=int, required=True, help="echo server, WebSocket")
    parser.add_argument("--raw-port", type=int, required=True, help="echo server, raw TCP")
    parser.add_argument("--workloads", required=True)
    parser.add_argument("--settings", default=config.FULL.to_json())
    parser.add_argument("--timeout", type=float, default=60.0, help="per workload")
    parser.add_argument("--cpu", type=int, default=config.MEASURED_CPU)
    args = parser.parse_args(argv)
    setup_process(args.cpu)
    settings = config.Settings.from_json(args.settings)
    impl = load(args.impl)
    port = args.raw_port if impl.raw else args.port
    amain = run_all(impl, args.host, port, args.workloads.split(","), settings, args.timeout)
    emit_result(run_on(impl, amain, uvloop=settings.uvloop))


if __name__ == "__main__":
    main()
