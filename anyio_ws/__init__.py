"""anyio_ws: WebSocket client and server on anyio."""
