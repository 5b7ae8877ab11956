"""A chat room: ``python examples/chat/server.py [--backend trio] [--host H] [--port P]``.

The same server answers plain HTTP on ``/`` with the chat page (index.html, beside
this file) and WebSocket connections on ``/ws``. Every message a client sends,
JSON ``{"name": ..., "text": ...}``, goes to every connected client, the sender
included. Broadcasting never waits: a client that stops reading is skipped once its
write buffer is full, so it cannot hold up the room. Bad input gets an
``{"error": ...}`` reply; a message over 4 KiB closes that connection with 1009.
Ctrl-C or SIGTERM closes every connection with 1001 "going away" and exits 0.
"""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

import anyio

import anyio_ws

PAGE = (Path(__file__).parent / "index.html").read_bytes()
MAX_NAME = 32  # characters
MAX_TEXT = 1000  # characters
MAX_SIZE = 4096  # bytes in a WebSocket message: room for MAX_TEXT in UTF-8 and JSON escapes


def process_request(
    connection: anyio_ws.ServerConnection, request: anyio_ws.Request
) -> anyio_ws.Response | None:
    """Serve the page on ``/``, go on with the WebSocket handshake on ``/ws``, else 404."""
    path = request.path.partition("?")[0]
    if path == "/ws":
        return None
    if path == "/":
        headers = anyio_ws.Headers({"Content-Type": "text/html; charset=utf-8"})
        return anyio_ws.Response(200, "OK", headers, PAGE)
    return connection.respond(404, "Not Found\n")


def parse(message: str | bytes) -> dict[str, str]:
    """The chat message in ``message``, keeping only its known fields.

    Raises ``ValueError`` saying what is wrong with it.
    """
    if isinstance(message, bytes):
        raise ValueError("send JSON as text, not binary")
    try:
        data = json.loads(message)
    except json.JSONDecodeError:
        raise ValueError("not JSON") from None
    if not isinstance(data, dict):
        raise ValueError('expected {"name": ..., "text": ...}')
    name, text = data.get("name"), data.get("text")
    if not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_NAME:
        raise ValueError(f"name must be a string of 1 to {MAX_NAME} characters")
    if not isinstance(text, str) or not 0 < len(text.strip()) <= MAX_TEXT:
        raise ValueError(f"text must be a string of 1 to {MAX_TEXT} characters")
    return {"name": name.strip(), "text": text}


async def chat(ws: anyio_ws.ServerConnection) -> None:
    """Relay each valid message to the whole room; tell the sender about invalid ones."""
    assert ws.server is not None
    async for message in ws:
        try:
            chat_message = parse(message)
        except ValueError as exc:
            await ws.send(json.dumps({"error": str(exc)}))
        else:
            anyio_ws.broadcast(ws.server.connections, json.dumps(chat_message))


async def main(host: str, port: int) -> None:
    # Listen for signals before serving, so that no signal can arrive unhandled.
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with anyio_ws.serve(
            chat, host, port, process_request=process_request, max_size=MAX_SIZE
        ) as server:
            shown_host = f"[{host}]" if ":" in host else host
            print(f"chat on http://{shown_host}:{server.port}/ (Ctrl-C to stop)", flush=True)
            async for signum in signals:
                print(f"{signal.Signals(signum).name}: closing connections", flush=True)
                server.close(close_connections=True, code=1001)
                break
            await server.wait_closed()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    anyio.run(main, args.host, args.port, backend=args.backend)
