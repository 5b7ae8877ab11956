"""connect(proxy=...) through real proxies: pproxy (HTTP CONNECT, SOCKS4, SOCKS5) in a subprocess.

A connection is known to have gone through the proxy when the port the server sees the
client on differs from the client's own local port: the server's peer is the proxy.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import anyio
import anyio.abc
import pytest
import trustme

import anyio_ws
from anyio_ws import InvalidProxy, InvalidProxyMessage, InvalidProxyStatus, ProxyError

pytestmark = pytest.mark.usefixtures("anyio_backend")

# pproxy installs uvloop when it can and asks for the loop in a way that 3.12+ refuse
# without one set: run its main() with the plain asyncio loop, set beforehand.
PPROXY_MAIN = (
    "import asyncio, sys; sys.modules['uvloop'] = None; "
    "asyncio.set_event_loop(asyncio.new_event_loop()); "
    "from pproxy.server import main; main(sys.argv[1:])"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def pproxy(
    log: Path, auth: str = "", protocols: str = "http+socks4+socks5", extra: Sequence[str] = ()
) -> Iterator[int]:
    """Run pproxy on 127.0.0.1 (HTTP, SOCKS4 and SOCKS5 on one port); yield the port."""
    port = free_port()
    listen = f"{protocols}://127.0.0.1:{port}/" + (f"#{auth}" if auth else "")
    # --auth 0: check credentials on every connection (by default pproxy trusts an IP
    # address that authenticated once, which would hide a wrong password).
    command = [sys.executable, "-W", "ignore", "-c", PPROXY_MAIN, "-l", listen, "--auth", "0"]
    command += extra
    with open(log, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                pytest.fail(f"pproxy exited: {log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"pproxy did not start: {log.read_text()}")
                time.sleep(0.05)  # polled: another process gives no event when ready
        yield port
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def open_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with pproxy(tmp_path_factory.mktemp("pproxy") / "open.log") as port:
        yield port


@pytest.fixture(scope="module")
def auth_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with pproxy(tmp_path_factory.mktemp("pproxy") / "auth.log", auth="alice:s3cret") as port:
        yield port


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_proxy(tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA) -> Iterator[int]:
    """pproxy speaking HTTP over TLS, with a certificate for 127.0.0.1 and localhost."""
    folder = tmp_path_factory.mktemp("pproxy")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    files = f"{folder / 'cert.pem'},{folder / 'key.pem'}"
    with pproxy(folder / "tls.log", protocols="http+ssl", extra=["--ssl", files]) as port:
        yield port


@pytest.fixture(scope="module")
def tls_certificates(ca: trustme.CA) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context for localhost and a client context trusting it."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client)
    return server, client


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable from the machine leaks into a test."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    return monkeypatch


async def echo_through(uri_host: str = "127.0.0.1", **options: object) -> tuple[bool, str]:
    """Connect to an echo server with ``options``; return (went through a proxy, echo)."""
    seen_ports: list[int] = []

    async def handler(ws: anyio_ws.ServerConnection) -> None:
        seen_ports.append(ws.remote_address[1])  # type: ignore[index]
        async for message in ws:
            await ws.send(message)

    async with anyio_ws.serve(handler, "127.0.0.1", 0) as server:
        uri = f"ws://{uri_host}:{server.port}/"
        with anyio.fail_after(10):
            async with anyio_ws.connect(uri, **options) as ws:  # type: ignore[arg-type]
                await ws.send("through")
                answer = await ws.recv()
                local_port = ws.local_address[1]  # type: ignore[index]
    assert isinstance(answer, str)
    return seen_ports != [local_port], answer


# ---------------------------------------------------------------- HTTP CONNECT


async def test_http_connect_proxy(open_proxy, clean_env):
    """proxy="http://..." tunnels the connection with CONNECT."""
    proxied, answer = await echo_through(proxy=f"http://127.0.0.1:{open_proxy}")
    assert proxied and answer == "through"


async def test_direct_connection_is_not_proxied(clean_env):
    """The check the other tests rely on: without a proxy, the ports match."""
    proxied, _ = await echo_through(proxy=None)
    assert not proxied


async def test_http_connect_proxy_with_credentials(auth_proxy, clean_env):
    """user:password in the proxy URI become Proxy-Authorization: Basic."""
    proxied, answer = await echo_through(proxy=f"http://alice:s3cret@127.0.0.1:{auth_proxy}")
    assert proxied and answer == "through"


@pytest.mark.parametrize("credentials", ["", "alice:wrong@"])
async def test_http_connect_proxy_rejecting_credentials(auth_proxy, clean_env, credentials):
    """Missing or wrong credentials raise InvalidProxyStatus with the 407 response."""
    with pytest.raises(InvalidProxyStatus) as info:
        await echo_through(proxy=f"http://{credentials}127.0.0.1:{auth_proxy}")
    assert info.value.response.status_code == 407
    assert "407" in str(info.value)


async def test_http_proxy_closing_without_answer_raises_invalid_proxy_message(clean_env):
    """A proxy that hangs up on CONNECT raises InvalidProxyMessage (a ProxyError)."""
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:

        async def hang_up(stream):
            await stream.receive()
            await stream.aclose()

        async with anyio.create_task_group() as group:
            group.start_soon(listener.serve, hang_up)
            port = listener.extra(anyio.abc.SocketAttribute.local_port)
            with pytest.raises(InvalidProxyMessage):
                await echo_through(proxy=f"http://127.0.0.1:{port}")
            group.cancel_scope.cancel()


async def test_unreachable_proxy_raises_os_error(clean_env, refused_port):
    """Nothing listening at the proxy address: an OSError, which reconnecting retries."""
    with pytest.raises(OSError):
        await echo_through(proxy=f"http://127.0.0.1:{refused_port}")


async def test_wss_through_http_proxy(open_proxy, clean_env, tls_certificates):
    """TLS to the server runs inside the tunnel; the certificate is the server's."""
    server_ssl, client_ssl = tls_certificates

    async def handler(ws: anyio_ws.ServerConnection) -> None:
        await ws.send("secure hello")

    async with anyio_ws.serve(handler, "127.0.0.1", 0, ssl=server_ssl) as server:
        uri = f"wss://localhost:{server.port}/"
        with anyio.fail_after(10):
            async with anyio_ws.connect(
                uri, ssl=client_ssl, proxy=f"http://127.0.0.1:{open_proxy}"
            ) as ws:
                assert await ws.recv() == "secure hello"


async def test_https_proxy(tls_proxy, clean_env, tls_certificates):
    """An https:// proxy: TLS to the proxy with proxy_ssl=, then CONNECT inside it."""
    _, client_ssl = tls_certificates
    proxied, answer = await echo_through(
        proxy=f"https://127.0.0.1:{tls_proxy}", proxy_ssl=client_ssl
    )
    assert proxied and answer == "through"


async def test_https_proxy_with_proxy_server_hostname(tls_proxy, clean_env, tls_certificates):
    """proxy_server_hostname= is the name the proxy's certificate is checked against."""
    _, client_ssl = tls_certificates
    proxied, _ = await echo_through(
        proxy=f"https://127.0.0.1:{tls_proxy}",
        proxy_ssl=client_ssl,
        proxy_server_hostname="localhost",
    )
    assert proxied


async def test_https_proxy_with_an_untrusted_certificate(tls_proxy, clean_env):
    """By default the proxy's certificate must be trusted by the system: it is not here."""
    with pytest.raises(ssl.SSLCertVerificationError):
        await echo_through(proxy=f"https://127.0.0.1:{tls_proxy}")


# ----------------------------------------------------------------------- SOCKS


@pytest.mark.parametrize("scheme", ["socks5h", "socks5", "socks4a", "socks4"])
async def test_socks_proxy(open_proxy, clean_env, scheme):
    """Every SOCKS flavour reaches the server through pproxy."""
    proxied, answer = await echo_through(proxy=f"{scheme}://127.0.0.1:{open_proxy}")
    assert proxied and answer == "through"


async def test_socks5_proxy_with_credentials(auth_proxy, clean_env):
    """SOCKS5 user/password authentication."""
    proxied, _ = await echo_through(proxy=f"socks5h://alice:s3cret@127.0.0.1:{auth_proxy}")
    assert proxied


async def test_socks5_proxy_rejecting_credentials(auth_proxy, clean_env):
    """Wrong SOCKS5 credentials raise ProxyError (not a retryable OSError)."""
    with pytest.raises(ProxyError) as info:
        await echo_through(proxy=f"socks5h://alice:wrong@127.0.0.1:{auth_proxy}")
    assert anyio_ws.process_exception(info.value) is info.value


# ------------------------------------------------------------------ environment


async def test_proxy_from_the_environment(open_proxy, clean_env):
    """The default proxy=True uses http_proxy for ws:// URIs."""
    clean_env.setenv("http_proxy", f"http://127.0.0.1:{open_proxy}")
    proxied, _ = await echo_through()
    assert proxied


async def test_socks_proxy_from_all_proxy(open_proxy, clean_env):
    """all_proxy=socks5h://... is used as a SOCKS proxy."""
    clean_env.setenv("all_proxy", f"socks5h://127.0.0.1:{open_proxy}")
    proxied, _ = await echo_through()
    assert proxied


async def test_no_proxy_bypasses_the_environment_proxy(open_proxy, clean_env):
    """A host listed in no_proxy is reached directly."""
    clean_env.setenv("http_proxy", f"http://127.0.0.1:{open_proxy}")
    clean_env.setenv("no_proxy", "localhost,127.0.0.1")
    proxied, _ = await echo_through()
    assert not proxied


async def test_proxy_none_ignores_the_environment(open_proxy, clean_env, refused_port):
    """proxy=None connects directly even when http_proxy is set."""
    clean_env.setenv("http_proxy", f"http://127.0.0.1:{refused_port}")  # would fail
    proxied, _ = await echo_through(proxy=None)
    assert not proxied


async def test_environment_proxy_is_not_used_for_a_unix_socket(clean_env, tmp_path):
    """proxy=True means no proxy when the transport is given (Unix socket here)."""
    clean_env.setenv("http_proxy", "http://127.0.0.1:1")
    connector = anyio_ws.unix_connect(tmp_path / "sock")
    assert connector.proxy is None


# ------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "proxy",
    [
        "ftp://127.0.0.1:21",
        "http://",
        "http://127.0.0.1:3128/path",
        "http://127.0.0.1:3128?q=1",
        "http://user@127.0.0.1:3128",
        "http://127.0.0.1:99999",
    ],
)
def test_invalid_proxy_raises_at_call(proxy):
    """A proxy URI that cannot work raises InvalidProxy (a ValueError) at the call."""
    with pytest.raises(InvalidProxy) as info:
        anyio_ws.connect("ws://127.0.0.1:8765/", proxy=proxy)
    assert isinstance(info.value, ValueError)


def test_proxy_of_a_wrong_type_raises_type_error():
    """proxy must be True, None or a string."""
    with pytest.raises(TypeError, match="proxy"):
        anyio_ws.connect("ws://127.0.0.1:8765/", proxy=False)  # type: ignore[arg-type]


def test_proxy_ssl_with_an_http_proxy_raises_value_error():
    """proxy_ssl= is meaningful only for an https:// proxy."""
    with pytest.raises(ValueError, match="proxy_ssl"):
        anyio_ws.connect(
            "ws://127.0.0.1:8765/",
            proxy="http://127.0.0.1:3128",
            proxy_ssl=ssl.create_default_context(),
        )


def test_proxy_with_a_socket_raises_value_error():
    """An explicit proxy and sock= contradict each other."""
    with socket.socket() as sock, pytest.raises(ValueError, match="proxy"):
        anyio_ws.connect("ws://127.0.0.1:8765/", proxy="http://127.0.0.1:3128", sock=sock)


def test_socks_without_python_socks_raises_import_error(monkeypatch):
    """Without python-socks, a SOCKS proxy raises ImportError naming the extra."""
    monkeypatch.setitem(sys.modules, "python_socks", None)
    monkeypatch.setitem(sys.modules, "python_socks.async_", None)
    monkeypatch.setitem(sys.modules, "python_socks.async_.anyio", None)
    with pytest.raises(ImportError, match=r"anyio-ws\[socks\]"):
        anyio_ws.connect("ws://127.0.0.1:8765/", proxy="socks5h://127.0.0.1:1080")
