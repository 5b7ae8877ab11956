"""The client's transport choices that need no socket: TLS, proxies, refusals.

``tests/test_client_transports.py``, ``test_proxy.py`` and ``test_tls.py`` open the
streams themselves.
"""

from __future__ import annotations

import errno
import ssl
import sys

import pytest

from anyio_ws._client_transport import check_tls, proxy_for, refusal
from anyio_ws._proxy import parse_proxy
from anyio_ws.core.uri import parse_uri

if sys.version_info < (3, 11):
    from exceptiongroup import ExceptionGroup

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "socks_proxy", "ws_proxy", "wss_proxy")


def refused(port: int) -> ConnectionRefusedError:
    return ConnectionRefusedError(errno.ECONNREFUSED, f"refused on {port}")


def raised_from(cause: BaseException) -> OSError:
    """anyio's "All connection attempts failed", caused by ``cause``."""
    error = OSError("All connection attempts failed")
    error.__cause__ = cause
    return error


# ---------------------------------------------------------------------- TLS


def test_wss_gets_the_system_trust_by_default():
    """Without ssl=, a wss:// URI verifies against the default context."""
    context = check_tls(parse_uri("wss://example.com/"), None)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_given_context_is_used_as_is():
    """ssl= is taken, not copied."""
    context = ssl.create_default_context()
    assert check_tls(parse_uri("wss://example.com/"), context) is context


def test_ws_has_no_tls_and_refuses_a_context():
    """ssl= with a ws:// URI is a mistake, said at the call."""
    assert check_tls(parse_uri("ws://example.com/"), None) is None
    with pytest.raises(ValueError, match="only for wss://"):
        check_tls(parse_uri("ws://example.com/"), ssl.create_default_context())


# ------------------------------------------------------------------- proxies


def test_no_proxy_and_a_given_proxy_are_taken_as_they_are(monkeypatch):
    """None connects directly and a parsed proxy is used, whatever the environment says."""
    monkeypatch.setenv("http_proxy", "http://env-proxy:3128")
    given = parse_proxy("http://given:8080")
    assert proxy_for(None, parse_uri("ws://example.com/")) is None
    assert proxy_for(given, parse_uri("ws://example.com/")) is given


def test_environment_proxy_is_read_for_each_uri(monkeypatch):
    """True asks the environment, which no_proxy can overrule for one host."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("http_proxy", "http://env-proxy:3128")
    monkeypatch.setenv("no_proxy", "direct.example")
    assert proxy_for(True, parse_uri("ws://example.com/")) == parse_proxy("http://env-proxy:3128")
    assert proxy_for(True, parse_uri("ws://direct.example/")) is None


# ------------------------------------------------------------------ refusals


def test_a_refusal_already_is_one():
    """A ConnectionRefusedError needs no translation."""
    assert refusal(refused(1)) is None


def test_a_single_refusal_behind_os_error_comes_out():
    """anyio's OSError from one refusal becomes a ConnectionRefusedError with its errno."""
    found = refusal(raised_from(refused(1)))
    assert isinstance(found, ConnectionRefusedError)
    assert found.errno == errno.ECONNREFUSED and found.strerror == "refused on 1"


def test_refusals_of_every_address_come_out_as_the_first():
    """Every address refused (IPv6 and IPv4, say): the first refusal is reported."""
    group = ExceptionGroup("attempts", [ExceptionGroup("v6", [refused(1)]), refused(2)])
    found = refusal(raised_from(group))
    assert isinstance(found, ConnectionRefusedError) and found.strerror == "refused on 1"


def test_other_failures_are_not_refusals():
    """A timeout among the refusals, or no cause at all, stays an OSError."""
    assert refusal(raised_from(ExceptionGroup("attempts", [refused(1), TimeoutError()]))) is None
    assert refusal(OSError("no route")) is None
    assert refusal(raised_from(OSError(errno.EHOSTUNREACH, "unreachable"))) is None
