"""examples/chat in a real browser: two headless Chromium pages chat, and reconnect.

The server runs as users run it, a subprocess, on either backend; the browser side
is playwright's sync API driving Debian's ``chromium`` (no downloaded browser).
"""

from __future__ import annotations

import re
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from subprocesses import ROOT, TIMEOUT, python_env

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,  # a real browser, a server restarted on its port: not beside others
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="needs the playwright package (pip install playwright)"
)

WAIT_MS = 20_000
"""Bound on every browser wait; reconnection back-off stays well below it."""


@contextmanager
def python_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run ``python *args`` from the project root; yield it and the first line it printed.

    The process is killed on the way out if it is still running.
    """
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=python_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], TIMEOUT)
        assert ready, "the process printed nothing"
        yield process, process.stdout.readline()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(TIMEOUT)
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def chat_server(backend: str, port: int = 0) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run examples/chat/server.py; yield the process and the URL it printed."""
    args = ["examples/chat/server.py", "--backend", backend, "--port", str(port)]
    with python_process(*args) as (process, first):
        match = re.match(r"chat on (http://127\.0\.0\.1:\d+/) ", first)
        assert match is not None, first
        yield process, match[1]


def stop(process: subprocess.Popen[str]) -> None:
    """Ctrl-C the server: it must exit 0 after closing its connections."""
    process.send_signal(signal.SIGINT)
    assert process.wait(TIMEOUT) == 0


def say(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.click("#send")


@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
def test_two_pages_chat_and_reconnect_after_restart(server_backend: str) -> None:
    """A's message reaches A and B; after a restart both reconnect and B reaches A."""
    expect = sync_api.expect
    expect.set_options(timeout=WAIT_MS)
    with chat_server(server_backend) as (server, url), sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page_a, page_b = browser.new_page(), browser.new_page()  # one context each
            for page, name in [(page_a, "ann"), (page_b, "bob")]:
                page.set_default_timeout(WAIT_MS)
                page.goto(url)
                page.fill("#name", name)
                expect(page.locator("#status")).to_have_text("connected")

            say(page_a, "hello from A")
            for page in page_a, page_b:
                expect(page.locator("#messages li")).to_have_text(["ann: hello from A"])

            stop(server)
            for page in page_a, page_b:
                expect(page.locator("#status")).to_have_text("reconnecting")

            port = url.rsplit(":", 1)[1].rstrip("/")
            with chat_server(server_backend, int(port)) as (restarted, _):
                for page in page_a, page_b:
                    expect(page.locator("#status")).to_have_text("connected")
                say(page_b, "B is back")
                expected = ["ann: hello from A", "bob: B is back"]
                for page in page_a, page_b:
                    expect(page.locator("#messages li")).to_have_text(expected)
                stop(restarted)
        finally:
            browser.close()


SHARED_COMPRESSION_SERVER = """
import sys, anyio, anyio_ws

MESSAGES = ['{"symbol": "ACME", "price": 101.25}' * 40, "é€ " * 500, ""]

async def main() -> None:
    connections = set()
    everyone = anyio.Event()

    async def handler(ws):
        connections.add(ws)
        if len(connections) == 2:
            everyone.set()
        await ws.wait_closed()

    async with anyio_ws.serve(handler, "127.0.0.1", 0, shared_compression=True) as server:
        print(server.port, flush=True)
        await everyone.wait()
        for message in MESSAGES:
            anyio_ws.broadcast(connections, message)
        await anyio.sleep_forever()

anyio.run(main, backend=sys.argv[1])
"""

COLLECT_JS = """
async ([url, count]) => {
    const collect = () => new Promise((resolve, reject) => {
        const ws = new WebSocket(url);
        const got = [];
        ws.onmessage = (event) => {
            got.push(event.data);
            if (got.length === count) resolve([ws.extensions, got]);
        };
        ws.onerror = () => reject(new Error("websocket error"));
    });
    return await Promise.all([collect(), collect()]);
}
"""


@pytest.mark.parametrize("server_backend", ["asyncio", "trio"])
def test_chromium_inflates_a_broadcast_compressed_once(server_backend: str) -> None:
    """Two Chromium WebSockets get one shared compressed frame per message, intact."""
    with (
        python_process("-c", SHARED_COMPRESSION_SERVER, server_backend) as (_, first),
        sync_api.sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(WAIT_MS)
            results = page.evaluate(COLLECT_JS, [f"ws://127.0.0.1:{int(first)}/", 3])
        finally:
            browser.close()
    expected = ['{"symbol": "ACME", "price": 101.25}' * 40, "é€ " * 500, ""]
    for extensions, messages in results:
        assert "permessage-deflate" in extensions
        assert "server_no_context_takeover" in extensions
        assert messages == expected
