"""Answer plain HTTP health checks with ``process_request``; require a password elsewhere.

A load balancer probing ``GET /healthz`` gets ``200 OK`` without any WebSocket
handshake; every other path needs HTTP Basic credentials (``basic_auth``).
"""

from __future__ import annotations

import argparse

import anyio

import anyio_ws

auth = anyio_ws.basic_auth(realm="demo", credentials=("alice", "s3cret"))


async def process_request(
    connection: anyio_ws.ServerConnection, request: anyio_ws.Request
) -> anyio_ws.Response | None:
    if request.path == "/healthz":
        return connection.respond(200, "OK\n")  # the handler never runs
    return await auth(connection, request)  # None when the credentials are good


async def handler(ws: anyio_ws.ServerConnection) -> None:
    await ws.send(f"hello {ws.username}")


async def http_get(port: int, path: str) -> str:
    """The status line a plain HTTP client (a load balancer, curl) gets."""
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        response = b""
        while b"\r\n" not in response:
            response += await stream.receive()
        return response.split(b"\r\n")[0].decode()


async def main() -> None:
    async with anyio_ws.serve(handler, "127.0.0.1", 0, process_request=process_request) as server:
        print(f"GET /healthz: {await http_get(server.port, '/healthz')}")
        try:
            async with anyio_ws.connect(f"ws://127.0.0.1:{server.port}/"):
                pass
        except anyio_ws.InvalidStatus as exc:
            print(f"without credentials: {exc.response.status_code}")
        async with anyio_ws.connect(f"ws://alice:s3cret@127.0.0.1:{server.port}/") as ws:
            print(f"with credentials: {await ws.recv()!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    anyio.run(main, backend=parser.parse_args().backend)
