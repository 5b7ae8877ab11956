"""The runner: ``python -m bench`` (or ``python bench/run.py``).

For every repetition it walks the implementations round-robin (each repetition starts
one further along the list), and for each one starts the measured process on the
measured CPU and the fixed side (generator or echo server) on the other CPU, collects
one result line, and stops them. Then ``bench.report`` writes the tables and the chart.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # ``python bench/run.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "bench"

from bench import config  # noqa: E402
from bench.adapters import ALL, Implementation, load  # noqa: E402
from bench.procutil import READY_PREFIX, RESULT_PREFIX, LoadMeter, setup_process  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
START_TIMEOUT = 30.0
WS_WORKLOADS = ("a", "b", "c", "d")


@dataclasses.dataclass
class Results:
    """Every measurement: ``cells[role][workload][impl]`` holds values per repetition."""

    cells: dict[str, dict[str, dict[str, dict[str, list[Any]]]]] = dataclasses.field(
        default_factory=dict
    )
    skipped: dict[str, dict[str, dict[str, str]]] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    curve: dict[str, dict[str, dict[str, dict[str, list[Any]]]]] = dataclasses.field(
        default_factory=dict
    )
    """The cost curve: ``curve[measure][impl][str(connections)]``, cells as above."""
    curve_skipped: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    """``curve_skipped[measure][impl]``: why a row has no values."""

    def add(self, role: str, impl: str, result: dict[str, Any]) -> None:
        for key, outcome in result.items():
            cell = (
                self.cells.setdefault(role, {})
                .setdefault(key, {})
                .setdefault(impl, {"values": [], "errors": [], "details": []})
            )
            self._record(cell, outcome, f"{role} {key} {impl}")

    def skip(self, role: str, key: str, impl: str, reason: str) -> None:
        self.skipped.setdefault(role, {}).setdefault(key, {})[impl] = reason

    def add_curve(self, impl: str, n: int, result: dict[str, Any]) -> None:
        for measure, outcome in result.items():
            cell = (
                self.curve.setdefault(measure, {})
                .setdefault(impl, {})
                .setdefault(str(n), {"values": [], "errors": [], "details": []})
            )
            self._record(cell, outcome, f"curve {measure} N={n} {impl}")

    def _record(self, cell: dict[str, Any], outcome: dict[str, Any], where: str) -> None:
        """One repetition's outcome into its cell: a value and its details, or an error."""
        if "error" in outcome:
            cell["errors"].append(outcome["error"])
            self.errors.append(f"{where}: {outcome['error']}")
        else:
            cell["values"].append(outcome["value"])
            cell["details"].append({k: v for k, v in outcome.items() if k != "value"})

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("PYTHONASYNCIODEBUG", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Runner:
    """Starts and stops the processes of each cell."""

    def __init__(self, settings: config.Settings, log_dir: Path, verbose: bool) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.verbose = verbose
        log_dir.mkdir(parents=True, exist_ok=True)

    def _log(self, name: str) -> Any:
        return open(self.log_dir / f"{name}.log", "a")

    @contextmanager
    def process(self, args: list[str], log_name: str, lifetime: float) -> Iterator[list[int]]:
        """Start ``python -m bench.<args>``; yield the numbers of its ready line."""
        cmd = [sys.executable, "-m", *args, "--lifetime", str(lifetime)]
        with self._log(log_name) as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} {' '.join(args)}\n")
            log.flush()
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=log, env=child_env(), cwd=ROOT, text=True
            )
            try:
                yield self._wait_ready(proc)
            finally:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
                if proc.stdout is not None:
                    proc.stdout.close()

    def _wait_ready(self, proc: subprocess.Popen[str]) -> list[int]:
        assert proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=deadline - time.monotonic()):
                    break
                line = proc.stdout.readline()
                if not line:
                    break
                if line.startswith(READY_PREFIX):
                    return [int(x) for x in line[len(READY_PREFIX) :].split()]
        raise RuntimeError(f"{proc.args!r} did not start (exit code {proc.poll()})")

    def run_child(
        self,
        args: list[str],
        log_name: str,
        timeout: float,
        settings: config.Settings | None = None,
    ) -> dict[str, Any]:
        """Run ``python -m bench.<args>`` to the end; return its result line."""
        settings = settings or self.settings
        cmd = [sys.executable, "-m", *args, "--settings", settings.to_json()]
        with self._log(log_name) as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} {' '.join(args)}\n")
            log.flush()
            try:
                done = subprocess.run(
                    cmd,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    env=child_env(),
                    cwd=ROOT,
                    text=True,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"timed out after {timeout:.0f} s") from None
        for line in done.stdout.splitlines():
            if line.startswith(RESULT_PREFIX):
                return json.loads(line[len(RESULT_PREFIX) :])  # type: ignore[no-any-return]
        raise RuntimeError(f"no result (exit code {done.returncode}); see {log_name}.log")

    def workload_timeout(self, keys: list[str]) -> float:
        per = self.settings.warmup + self.settings.window + 30
        return per * len(keys) + (90 if "e" in keys else 0)

    # ------------------------------------------------------------- server role

    def server_cell(
        self,
        impl: Implementation,
        keys: list[str],
        compression: bool,
        fanout: bool = False,
        shared: bool = False,
        settings: config.Settings | None = None,
        timeout: float | None = None,
        result_keys: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """One server process for ``impl``, driven by the generator for ``keys``.

        ``settings`` and ``timeout`` replace the run's (the cost curve's cells);
        ``result_keys`` are the results that ``keys`` give, when they differ.
        """
        if timeout is None:
            timeout = self.workload_timeout(keys)
        server_args = [
            "bench.server_proc",
            "--impl",
            impl.name,
            "--compression",
            str(int(compression)),
        ]
        if self.settings.uvloop:
            server_args.append("--uvloop")
        if fanout:
            server_args.append("--fanout")
        if shared:
            server_args.append("--shared-compression")
        try:
            with self.process(server_args, f"server-{impl.name}", timeout + 60) as (port, pid):
                gen_args = [
                    "bench.generator",
                    "--port",
                    str(port),
                    "--mode",
                    "raw" if impl.raw else "ws",
                    "--workloads",
                    ",".join(keys),
                    "--server-pid",
                    str(pid),
                    "--timeout",
                    str(timeout),
                ]
                return self.run_child(
                    gen_args, f"generator-{impl.name}", timeout + 30, settings=settings
                )
        except RuntimeError as exc:
            return {key: {"error": str(exc)} for key in result_keys or keys}

    def server_role(self, impls: list[Implementation], keys: list[str], results: Results) -> None:
        for rep in range(self.settings.reps):
            for impl in rotate(impls, rep):
                started = time.monotonic()
                outcome: dict[str, Any] = {}
                plain = [k for k in keys if k in WS_WORKLOADS]
                if plain:
                    outcome.update(self.server_cell(impl, plain, compression=False))
                if "e" in keys:
                    outcome.update(self.server_cell(impl, ["e"], compression=False))
                if "cz" in keys:
                    if impl.raw or impl.supports_compression():
                        outcome.update(self.server_cell(impl, ["cz"], compression=not impl.raw))
                    else:
                        results.skip("server", "cz", impl.name, impl.no_compression_reason)
                if "b1k" in keys:  # a fresh server: 1,000 connections leave their mark
                    outcome.update(self.server_cell(impl, ["b1k"], compression=False))
                for key in config.FANOUT_WORKLOADS:  # (f), (fz), (fzs): a fresh server each
                    if key not in keys:
                        continue
                    workload = config.WORKLOADS[key]
                    compression = workload.compression
                    reason = impl.fanout_unsupported(compression)
                    shared = workload.shared_compression
                    if reason is None and shared and not impl.supports_shared_compression():
                        reason = impl.no_shared_compression_reason
                    if reason is not None:
                        results.skip("server", key, impl.name, reason)
                        continue
                    outcome.update(
                        self.server_cell(
                            impl,
                            [key],
                            compression=compression and not impl.raw,
                            fanout=True,
                            shared=shared,
                        )
                    )
                results.add("server", impl.name, outcome)
                self.progress("server", rep, impl, outcome, started, self.settings.reps)

    # -------------------------------------------------------------- cost curve

    def curve(self, impls: list[Implementation], reps: int, results: Results) -> None:
        """The cost curve: every implementation at every size, smallest size first.

        At each size N, one server process answers (i)-(iii) (``curve`` in the
        generator) and a fresh broadcast server answers (iv), the (f) fan-out to N
        clients. Each cell is bounded by ``config.curve_timeout()``.
        """
        for rep in range(reps):
            for n in self.settings.curve_sizes:
                cell = config.curve_settings(self.settings, n)
                timeout = config.curve_timeout(cell, n)
                for impl in rotate(impls, rep):
                    started = time.monotonic()
                    outcome = self.server_cell(
                        impl,
                        ["curve"],
                        compression=False,
                        settings=cell,
                        timeout=timeout,
                        result_keys=("memory", "handshake", "echo"),
                    )
                    reason = impl.fanout_unsupported(False)
                    if reason is None:
                        fanout = self.server_cell(
                            impl,
                            ["f"],
                            compression=False,
                            fanout=True,
                            settings=cell,
                            timeout=timeout,
                        )
                        outcome["fanout"] = fanout["f"]
                    else:
                        results.curve_skipped.setdefault("fanout", {})[impl.name] = reason
                    results.add_curve(impl.name, n, outcome)
                    self.progress(f"curve N={n}", rep, impl, outcome, started, reps)

    # ------------------------------------------------------------- client role

    def client_role(self, impls: list[Implementation], keys: list[str], results: Results) -> None:
        skipped = [k for k in keys if k in config.SERVER_ONLY_WORKLOADS]
        if skipped:
            why = []
            if any(k in config.FANOUT_WORKLOADS for k in skipped):
                why.append("a broadcast is what a server does")
            if "b1k" in skipped:
                why.append("(b1k) measures a server under many connections")
            results.notes.append(
                f"({'), ('.join(skipped)}) run in the server role only ({'; '.join(why)}); "
                "the client role skipped them."
            )
            keys = [k for k in keys if k not in skipped]
            if not keys:
                return
        impls = [i for i in impls if not i.server_only]
        lifetime = 3600.0
        with self.process(
            ["bench.echo_server", "--cpu", str(config.GENERATOR_CPU)], "echo-server", lifetime
        ) as (ws_port, raw_port):
            for rep in range(self.settings.reps):
                for impl in rotate(impls, rep):
                    started = time.monotonic()
                    batch = [k for k in keys if k in WS_WORKLOADS]
                    if "cz" in keys:
                        if impl.raw or impl.supports_compression():
                            batch.append("cz")
                        else:
                            results.skip("client", "cz", impl.name, impl.no_compression_reason)
                    outcome: dict[str, Any] = {}
                    for group in (batch, ["e"] if "e" in keys else []):
                        if group:
                            outcome.update(self.client_cell(impl, group, ws_port, raw_port))
                    results.add("client", impl.name, outcome)
                    self.progress("client", rep, impl, outcome, started, self.settings.reps)

    def client_cell(
        self, impl: Implementation, keys: list[str], ws_port: int, raw_port: int
    ) -> dict[str, Any]:
        timeout = self.workload_timeout(keys)
        args = [
            "bench.client_proc",
            "--impl",
            impl.name,
            "--port",
            str(ws_port),
            "--raw-port",
            str(raw_port),
            "--workloads",
            ",".join(keys),
            "--timeout",
            str(timeout),
        ]
        try:
            return self.run_child(args, f"client-{impl.name}", timeout + 30)
        except RuntimeError as exc:
            return {key: {"error": str(exc)} for key in keys}

    def progress(
        self,
        role: str,
        rep: int,
        impl: Implementation,
        outcome: dict[str, Any],
        started: float,
        reps: int,
    ) -> None:
        parts = []
        for key, value in outcome.items():
            if "error" in value:
                parts.append(f"{key}=ERROR({value['error'][:80]})")
            else:
                parts.append(f"{key}={value['value']:.4g}")
        print(
            f"[{role} {rep + 1}/{reps}] {impl.name:20} {' '.join(parts)}"
            f" ({time.monotonic() - started:.1f} s)",
            file=sys.stderr,
            flush=True,
        )


def rotate(items: list[Implementation], n: int) -> list[Implementation]:
    """Round-robin order: repetition ``n`` starts ``n`` places further."""
    if not items:
        return items
    n %= len(items)
    return items[n:] + items[:n]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark anyio_ws against other Python WebSocket implementations.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1 repetition, short windows, 200 idle connections (< 2 min)",
    )
    parser.add_argument("--role", choices=["server", "client", "both"], default="both")
    parser.add_argument("--only", help=f"comma-separated implementations (of: {', '.join(ALL)})")
    parser.add_argument(
        "--workloads",
        default=",".join(config.DEFAULT_WORKLOADS),
        help="comma-separated, of: a,b,b1k,c,d,e,cz,f,fz,fzs,curve (cz = c with compression; "
        "b1k: b on 1,000 connections; f, fz, fzs: broadcast fan-out, fzs with shared "
        "compression; curve: the cost curve at --curve-sizes connections; b1k, f*, curve are "
        "server role only and not in the default list)",
    )
    parser.add_argument(
        "--curve-sizes",
        help="comma-separated numbers of connections of the cost curve (default 100,1000,10000)",
    )
    parser.add_argument("--reps", type=int, help="repetitions per cell")
    parser.add_argument("--window", type=float, help="seconds measured per cell")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per cell")
    parser.add_argument("--idle-connections", type=int, help="connections in workload (e)")
    parser.add_argument(
        "--fanout-connections", type=int, help="clients in workloads (f), (fz) and (fzs)"
    )
    parser.add_argument(
        "--uvloop", action="store_true", help="run the measured asyncio implementations on uvloop"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH_DIR / "results",
        help="where to write the table, chart and raw results",
    )
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = config.QUICK if args.quick else config.FULL
    overrides = {
        "reps": args.reps,
        "window": args.window,
        "warmup": args.warmup,
        "idle_connections": args.idle_connections,
        "fanout_connections": args.fanout_connections,
        "uvloop": args.uvloop or None,
    }
    settings = dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v})
    if args.curve_sizes:
        try:
            sizes = tuple(sorted({int(x) for x in args.curve_sizes.split(",") if x.strip()}))
        except ValueError:
            sizes = ()
        if not sizes or min(sizes) < 1:
            print(f"bad --curve-sizes: {args.curve_sizes!r}", file=sys.stderr)
            return 2
        settings = dataclasses.replace(settings, curve_sizes=sizes)
    keys = [k.strip() for k in args.workloads.split(",") if k.strip()]
    curve = config.CURVE in keys
    keys = [k for k in keys if k != config.CURVE]
    unknown = [k for k in keys if k not in config.WORKLOADS]
    if unknown:
        print(f"unknown workloads: {', '.join(unknown)}", file=sys.stderr)
        return 2
    names = [n.strip() for n in args.only.split(",")] if args.only else list(ALL)
    results = Results()
    impls: list[Implementation] = []
    for name in names:
        try:
            impls.append(load(name))
        except LookupError as exc:
            if name not in ALL:
                print(exc, file=sys.stderr)
                return 2
            results.notes.append(f"skipped {exc}")
            print(f"skipped {exc}", file=sys.stderr)
    # The curve has its own rows unless --only names them; the workloads keep theirs.
    curve_impls = [i for i in impls if args.only or i.name in config.CURVE_IMPLEMENTATIONS]
    setup_process(config.GENERATOR_CPU)
    runner = Runner(settings, args.out / "logs", verbose=True)
    started = time.monotonic()
    meter = LoadMeter()
    if args.role in ("server", "both") and keys:
        runner.server_role(impls, keys, results)
    if args.role in ("client", "both") and keys:
        runner.client_role(impls, keys, results)
    if curve and args.role == "client":
        results.notes.append("the cost curve runs in the server role only; skipped")
    elif curve:  # after the workloads: the longest part of a run
        runner.curve(curve_impls, args.reps or 1, results)
    elapsed = time.monotonic() - started
    foreign, steal = meter.foreign_and_steal()
    results.notes.append(
        f"other processes on the machine used {foreign:.0f}% of one CPU on average during "
        f"the run (hypervisor steal: {steal:.0f}%)"
        + ("; the numbers are skewed by that load" if foreign > 10 else "")
    )

    from bench import report

    paths = report.write(results, impls, keys, settings, args, elapsed, args.out, curve_impls)
    print(paths["markdown_text"])
    print(
        f"\nwritten: {', '.join(str(p) for k, p in paths.items() if k != 'markdown_text')}",
        file=sys.stderr,
    )
    if results.errors:
        print(f"{len(results.errors)} cell(s) failed:", file=sys.stderr)
        for line in results.errors:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
