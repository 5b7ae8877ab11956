"""The fixed echo server of the client role: raw asyncio protocols on uvloop.

It does the least a WebSocket echo server can: the opening handshake, unmasking, and
writing each data frame back unmasked with the same first byte (FIN, RSV1, opcode), so
fragmented and compressed messages come back exactly as they were sent. That is valid
permessage-deflate: the client's own DEFLATE stream, which its inflater (same window,
same context rules, as negotiated below) can read. Pings get pongs; a close frame is
echoed and the TCP connection closed. No UTF-8 or close-code validation.

A second port serves raw TCP echo (no handshake, no framing) for the raw baselines;
there, EOF from the client closes the connection.

Run by the runner as ``python -m bench.echo_server``; prints its ports, then serves
until terminated (or ``--lifetime`` seconds, whichever comes first).
"""

from __future__ import annotations

import argparse
import asyncio

from . import config, wsframes
from .procutil import emit_ready, setup_process


def negotiate_deflate(offer: str | None) -> str | None:
    """The permessage-deflate response for ``offer`` that keeps verbatim echo valid."""
    params = wsframes.parse_deflate(offer)
    if params is None or offer is None:
        return None
    response = ["permessage-deflate"]
    if params.server_no_context_takeover:
        # Our messages are the client's: it must not keep context either.
        response += ["server_no_context_takeover", "client_no_context_takeover"]
    elif params.client_no_context_takeover:
        response.append("client_no_context_takeover")
    if "server_max_window_bits" in offer and params.server_max_window_bits < 15:
        if "client_max_window_bits" not in offer:
            return None
        bits = params.server_max_window_bits
        response += [f"server_max_window_bits={bits}", f"client_max_window_bits={bits}"]
    return "; ".join(response)


class WebSocketEcho(asyncio.Protocol):
    """One WebSocket connection: handshake, then frame-by-frame echo."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.open:
            self._handshake()
            if not self.open:
                return
        self._echo_frames()

    def eof_received(self) -> bool | None:
        return None

    def _handshake(self) -> None:
        assert self.transport is not None
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > 65536:
                self.transport.abort()
            return
        _, headers = wsframes.parse_head(bytes(self.buffer[:end]))
        del self.buffer[: end + 4]
        key = headers.get("sec-websocket-key")
        if key is None or "websocket" not in headers.get("upgrade", "").lower():
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            self.transport.close()
            return
        lines = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Accept: {wsframes.accept_key(key.encode()).decode()}",
        ]
        extension = negotiate_deflate(headers.get("sec-websocket-extensions"))
        if extension:
            lines.append(f"Sec-WebSocket-Extensions: {extension}")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.open = True

    def _echo_frames(self) -> None:
        """Echo every whole frame in the buffer, unmasked; keep a partial one."""
        transport = self.transport
        assert transport is not None
        buf = self.buffer
        pos = 0
        size = len(buf)
        out: list[bytes] = []
        while size - pos >= 6:
            b0 = buf[pos]
            n = buf[pos + 1] & 0x7F
            head = 2
            if n == 126:
                if size - pos < 8:
                    break
                n = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif n == 127:
                if size - pos < 14:
                    break
                n = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            start = pos + head + 4
            end = start + n
            if size < end:
                break
            opcode = b0 & 0x0F
            mask = bytes(buf[start - 4 : start])
            if opcode < 0x8 and pos == 0 and end == size and n >= 65536:
                # One large frame fills the buffer: unmask it where it is and hand the
                # buffer to the transport, without copying the payload.
                wsframes.unmask_in_place(buf, start, n, mask)
                transport.writelines([wsframes.frame_header(b0, n), memoryview(buf)[start:]])
                self.buffer = bytearray()
                return
            payload = wsframes.apply_mask(bytes(buf[start:end]), mask)
            pos = end
            if opcode == wsframes.OP_PING:
                out.append(wsframes.frame(wsframes.OP_PONG, payload))
            elif opcode == wsframes.OP_PONG:
                pass
            elif opcode == wsframes.OP_CLOSE:
                out.append(wsframes.frame(wsframes.OP_CLOSE, payload))
                transport.write(b"".join(out))
                transport.close()
                buf.clear()
                return
            else:
                out.append(wsframes.frame_header(b0, n) + payload)
        if pos:
            del buf[:pos]
        if out:
            transport.write(out[0] if len(out) == 1 else b"".join(out))


class RawEcho(asyncio.Protocol):
    """Raw TCP echo: bytes back as they come; EOF closes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def eof_received(self) -> bool | None:
        return None


async def serve(host: str, lifetime: float) -> None:
    loop = asyncio.get_running_loop()
    ws = await loop.create_server(WebSocketEcho, host, 0, backlog=4096)
    raw = await loop.create_server(RawEcho, host, 0, backlog=4096)
    emit_ready(ws.sockets[0].getsockname()[1], raw.sockets[0].getsockname()[1])
    async with ws, raw:
        await asyncio.sleep(lifetime)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=config.HOST)
    parser.add_argument("--cpu", type=int, default=config.GENERATOR_CPU)
    parser.add_argument("--lifetime", type=float, default=3600.0)
    args = parser.parse_args(argv)
    setup_process(args.cpu)
    import uvloop

    uvloop.run(serve(args.host, args.lifetime))


if __name__ == "__main__":
    main()
