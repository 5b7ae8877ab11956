"""wss:// with a trustme certificate authority."""

from __future__ import annotations

import logging
import ssl

import anyio
import pytest
import trustme
from helpers import is_a_problem

import anyio_ws
from anyio_ws import ServerConnection

pytestmark = pytest.mark.usefixtures("anyio_backend")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(context)
    return context


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def exchange(port: int, context: ssl.SSLContext) -> None:
    with anyio.fail_after(5):
        async with anyio_ws.connect(f"wss://localhost:{port}/", ssl=context) as ws:
            await ws.send("secret")
            assert await ws.recv() == "secret"
            await ws.send(b"\x00" * 100_000)
            assert await ws.recv() == b"\x00" * 100_000
        assert ws.close_code == 1000


async def test_wss_exchanges_messages(server_context, client_context):
    """A client trusting the CA exchanges messages with a TLS server."""
    async with anyio_ws.serve(echo, "127.0.0.1", 0, ssl=server_context) as server:
        await exchange(server.port, client_context)


async def test_wss_server_closing_first(server_context, client_context):
    """A TLS connection closed by the server ends with 1000 on the client."""

    async def greet(ws: ServerConnection) -> None:
        await ws.send("bye")

    async with anyio_ws.serve(greet, "127.0.0.1", 0, ssl=server_context) as server:
        with anyio.fail_after(5):
            async with anyio_ws.connect(
                f"wss://localhost:{server.port}/", ssl=client_context
            ) as ws:
                assert await ws.recv() == "bye"
                await ws.wait_closed()
        assert ws.close_code == 1000


async def test_untrusted_certificate_fails_and_the_server_goes_on(
    server_context, client_context, caplog
):
    """A client that does not trust the CA gets an SSL error; the server keeps serving."""
    untrusting = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    async with anyio_ws.serve(echo, "127.0.0.1", 0, ssl=server_context) as server:
        with anyio.fail_after(5), pytest.raises(ssl.SSLError):
            async with anyio_ws.connect(f"wss://localhost:{server.port}/", ssl=untrusting):
                pytest.fail("the TLS handshake must fail")
        await exchange(server.port, client_context)
    # Our loggers only: asyncio's own may note the aborted TLS handshake, depending on
    # whether the alert or the reset reaches the server first.
    ours = [r for r in caplog.records if r.name.startswith("anyio_ws")]
    assert not [r for r in ours if r.levelno >= logging.WARNING or r.exc_info]


async def test_closing_handshakes_over_tls_log_no_error(server_context, client_context, caplog):
    """Closing TLS connections from either side, again and again, logs no error."""

    async def handler(ws: ServerConnection) -> None:
        message = await ws.recv()
        if message == "close first":
            await ws.close()
        else:
            await ws.wait_closed()

    async with anyio_ws.serve(handler, "127.0.0.1", 0, ssl=server_context) as server:
        for n in range(20):
            with anyio.fail_after(5):
                async with anyio_ws.connect(
                    f"wss://localhost:{server.port}/", ssl=client_context
                ) as ws:
                    await ws.send("close first" if n % 2 else "you close")
                    if n % 2:
                        await ws.wait_closed()
            assert ws.close_code == 1000
    assert not [r for r in caplog.records if is_a_problem(r)]
