"""``wss://``: pass an ``ssl.SSLContext`` to ``serve()`` and to ``connect()``.

The certificate comes from ``trustme``, a throwaway certificate authority for tests
(``pip install trustme``); in production, load your certificate and key with
``context.load_cert_chain()``, and leave out the client's ``ssl=`` to trust the
system's certificate authorities.
"""

from __future__ import annotations

import argparse
import ssl

import anyio
import trustme

import anyio_ws


async def handler(ws: anyio_ws.ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def main() -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    authority.configure_trust(client_context)

    async with anyio_ws.serve(handler, "127.0.0.1", 0, ssl=server_context) as server:
        # The URI's host is checked against the certificate. Connect to 127.0.0.1
        # (where the server listens), and check the name "localhost".
        uri = f"wss://127.0.0.1:{server.port}/"
        async with anyio_ws.connect(uri, ssl=client_context, server_hostname="localhost") as ws:
            await ws.send("secret")
            print(f"over TLS: {await ws.recv()!r}")
        try:
            async with anyio_ws.connect(uri, ssl=ssl.create_default_context()):
                pass
        except ssl.SSLCertVerificationError:
            print("unknown certificate authority: SSLCertVerificationError")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    anyio.run(main, backend=parser.parse_args().backend)
