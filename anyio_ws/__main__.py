"""``python -m anyio_ws ws://host:port/path``: the interactive client (see ``cli``)."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
