"""Benchmarks of anyio_ws against its peers (``python -m bench --help``).

Two roles: the *server role* drives every WebSocket server with one fixed load
generator (``bench.generator``); the *client role* points every WebSocket client at one
fixed echo server (``bench.echo_server``). The measured side and the fixed side run in
separate processes, pinned to separate CPUs. See ``bench/README.md``.
"""
