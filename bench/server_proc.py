"""One server under test, in its own process: ``python -m bench.server_proc``.

Pins itself to the measured CPU (and raises its open-file limit to the hard limit, for
the 1000 connections of (e) and (f)), starts the implementation's echo server, or its
broadcast server with ``--fanout`` (with shared compression, for (fzs), with
``--fanout --shared-compression``), prints its port, and serves until terminated (or
``--lifetime`` seconds).
"""

from __future__ import annotations

import argparse
import os

import anyio

from . import config
from .adapters import load
from .backends import run_on
from .procutil import emit_ready, setup_process


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", required=True)
    parser.add_argument("--host", default=config.HOST)
    parser.add_argument("--compression", type=int, choices=[0, 1], default=0)
    parser.add_argument("--cpu", type=int, default=config.MEASURED_CPU)
    parser.add_argument("--lifetime", type=float, default=600.0)
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--fanout", action="store_true", help="broadcast server of (f)/(fz)")
    parser.add_argument(
        "--shared-compression", action="store_true", help="with --fanout: the server of (fzs)"
    )
    args = parser.parse_args(argv)
    setup_process(args.cpu)
    impl = load(args.impl)

    def ready(port: int) -> None:
        emit_ready(port, os.getpid())

    async def serve() -> None:
        with anyio.move_on_after(args.lifetime):
            if args.fanout and args.shared_compression:
                await impl.serve_fanout_shared(args.host, ready=ready)
                return
            run = impl.serve_fanout if args.fanout else impl.serve
            await run(args.host, compression=bool(args.compression), ready=ready)

    run_on(impl, serve, uvloop=args.uvloop)


if __name__ == "__main__":
    main()
